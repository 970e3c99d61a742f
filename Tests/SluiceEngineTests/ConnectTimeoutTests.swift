import Glibc
import SluiceTesting
import Testing

@Suite(.serialized)
struct ConnectTimeoutTests {
    /// A TCP listener that never accepts: the kernel completes the handshake, then nothing answers,
    /// so a TLS handshake to it never finishes.
    final class SilentListener {
        let fd: Int32
        let port: Int
        init() throws {
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
            self.port = Int(UInt16(bigEndian: addr.sin_port))
        }
        deinit { close(fd) }
    }

    @Test func aHandshakeThatNeverFinishesIsAConnectTimeout() throws {
        let silent = try SilentListener()
        let proxy = try ProxyHarness(filterFile: """
        listeners: [{ address: 127.0.0.1:0 }]
        upstreams:
          stuck:
            endpoints: ["https://127.0.0.1:\(silent.port)"]
            pool: { connect_timeout: 300ms }
            tls: { verify: false }
        routes: [{ path_prefix: /, chain: main, upstream: stuck }]
        chains: { main: [] }
        """)
        defer { proxy.stop() }
        let started = ContinuousClock.now
        let response = try TestClient.post(port: proxy.port, path: "/v1/chat/completions", json: TestClient.chatRequest())
        #expect(response.status == 504)
        #expect(response.bodyText.contains("\"type\":\"connect_timeout\""))
        #expect(ContinuousClock.now - started >= .milliseconds(250))
    }
}
