import Glibc
import SluiceTesting
import Testing

@Suite(.serialized)
struct ConnectTimeoutTests {
    @Test func aHandshakeThatNeverFinishesIsAConnectTimeout() throws {
        let silent = SilentListener()
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
