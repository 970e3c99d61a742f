import SluiceFilterAPI

/// The certificate a TLS listener presents (`listeners[].tls`).
public struct ServerTLSSpec: Sendable {
    /// PEM certificate chain. A path relative to the filter file's directory in the file; here,
    /// already resolved against it. The loader checked that it is a readable file.
    public var certificate: String
    /// PEM private key, resolved and checked like `certificate`.
    public var key: String
    /// Where each path is written, for problems found when the files are loaded; nil when built in code.
    public var certificateMark: SourceMark?
    public var keyMark: SourceMark?

    public init(certificate: String, key: String, certificateMark: SourceMark? = nil, keyMark: SourceMark? = nil) {
        self.certificate = certificate
        self.key = key
        self.certificateMark = certificateMark
        self.keyMark = keyMark
    }
}
