import SluiceFilterAPI

/// An address the proxy accepts client connections on (`listeners:` entries).
public struct ListenerSpec: Sendable {
    /// From `name`, or `listener-N` (N counting from 1 in file order).
    public var name: String
    /// An IPv4 address, an IPv6 address without brackets (`::1`), or a host name to resolve.
    /// `0.0.0.0` / `::` mean every interface.
    public var host: String
    /// 0...65535; 0 asks the OS for a free port (tests use it).
    public var port: Int
    /// Present when the listener speaks TLS.
    public var tls: ServerTLSSpec?
    /// The listener's entry in the file.
    public var mark: SourceMark

    public init(name: String, host: String, port: Int, tls: ServerTLSSpec? = nil, mark: SourceMark) {
        self.name = name
        self.host = host
        self.port = port
        self.tls = tls
        self.mark = mark
    }
}
