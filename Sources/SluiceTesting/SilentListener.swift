#if canImport(Glibc)
import Glibc
#endif

/// A loopback TCP listener that never accepts: the kernel completes the TCP handshake, then nothing
/// answers, so a TLS handshake (or any request) to it never finishes. For connect and head timeouts.
public final class SilentListener {
    private let fd: Int32
    /// The port it listens on, on 127.0.0.1.
    public let port: Int

    /// Binds 127.0.0.1 on a free port and listens; nothing ever accepts.
    public init() {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        self.fd = fd
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = 0
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) } }
        listen(fd, 16)
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        port = Int(UInt16(bigEndian: addr.sin_port))
    }

    deinit { close(fd) }
}
