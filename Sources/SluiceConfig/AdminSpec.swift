import SluiceFilterAPI

/// Where the admin endpoint listens (`admin.address`) and who may use it (`admin.auth`).
public struct AdminSpec: Sendable {
    /// Written as `HOST:PORT`; `:PORT` means 127.0.0.1, so the admin endpoint is never exposed
    /// by accident.
    public var host: String
    /// 0...65535; 0 asks the OS for a free port.
    public var port: Int
    /// Credentials every admin request must carry, except on `auth.openPaths`; nil when the section
    /// has no `auth` (anyone who reaches the address may use it, which is why it defaults to loopback).
    public var auth: AdminAuthSpec?
    /// Where `address` is written, for warnings about it; nil for a spec built in code.
    public var addressMark: SourceMark?

    public init(host: String = "127.0.0.1", port: Int, auth: AdminAuthSpec? = nil, addressMark: SourceMark? = nil) {
        self.host = host
        self.port = port
        self.auth = auth
        self.addressMark = addressMark
    }

    /// Whether `host` only accepts connections from this machine: 127.0.0.0/8 or ::1.
    public static func isLoopback(_ host: String) -> Bool {
        host == "::1" || host.hasPrefix("127.") || host == "localhost"
    }
}
