/// Where the admin endpoint listens (`admin.address`).
public struct AdminSpec: Sendable {
    /// Written as `HOST:PORT`; `:PORT` means 127.0.0.1, so the admin endpoint is never exposed
    /// by accident.
    public var host: String
    /// 0...65535; 0 asks the OS for a free port.
    public var port: Int

    public init(host: String = "127.0.0.1", port: Int) {
        self.host = host
        self.port = port
    }
}
