import SluiceFilterAPI

/// How the proxy checks `https` endpoints (`upstreams.<name>.tls`).
public struct ClientTLSSpec: Sendable {
    /// Verify the endpoint's certificate chain and name (`verify`, default true). Turn off only
    /// for local testing.
    public var verify: Bool = true
    /// PEM bundle of trusted CAs instead of the system's (`ca_file`); resolved against the filter
    /// file's directory and checked to be a readable file.
    public var caFile: String?
    /// The name sent in SNI and checked against the certificate, instead of the endpoint's host
    /// (`server_name`).
    public var serverName: String?
    /// Where `ca_file` is written, for problems found when it is loaded; nil when built in code.
    public var caFileMark: SourceMark?

    public init() {}

    public init(verify: Bool = true, caFile: String? = nil, serverName: String? = nil) {
        self.verify = verify
        self.caFile = caFile
        self.serverName = serverName
    }
}
