import SluiceHTTP
import SluiceTesting
import Testing

@Suite(.serialized)
struct DrainTests {
    static let file = """
    listeners: [{ address: 127.0.0.1:0 }]
    admin: { address: 127.0.0.1:0 }
    upstreams:
      fake: { endpoints: ["{{upstream}}"] }
    routes: [{ path_prefix: /, chain: main, upstream: fake }]
    chains: { main: [] }
    """

    private func startStream(_ port: Int, path: String = "/v1/chat/completions", json: String = TestClient.chatRequest(),
                             tokens: Int, tps: Int) throws -> TestClient {
        let client = try TestClient(port: port)
        try client.send(HTTPRequestHead(method: "POST", target: path, headers: HTTPHeaders([
            ("host", "x"), ("content-type", "application/json"), ("x-mock-tokens", String(tokens)), ("x-mock-tps", String(tps)),
        ])), body: Array(json.utf8))
        _ = try client.readHead()
        return client
    }

    @Test func streamsShorterThanTheDrainTimeoutFinishAndNewConnectionsAreRefused() throws {
        let proxy = try ProxyHarness(filterFile: Self.file, drainTimeout: .seconds(10))
        defer { proxy.stop() }
        let streams = try (0..<50).map { _ in try startStream(proxy.port, tokens: 40, tps: 50) }  // ~0.8 s each
        proxy.engine.drain()
        let admin = try TestClient(port: proxy.adminPort!)
        try admin.sendRaw(Array("GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
        #expect(try admin.readResponse().status == 503)
        #expect(throws: (any Error).self) {
            let late = try TestClient(port: proxy.port)
            try late.sendRaw(Array("GET /v1/models HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
            _ = try late.readResponse(timeout: .seconds(2))
        }
        for s in streams {
            let rest = try s.readResponse(timeout: .seconds(10))
            #expect(rest.ending == .complete)
            #expect(rest.sseEvents.last?.data == "[DONE]")
            // Its head went out before the drain; the connection is closed once the stream is done.
            #expect(s.isClosedByPeer(within: .seconds(5)))
        }
        proxy.engine.waitUntilStopped()
    }

    @Test func streamsLongerThanTheDrainTimeoutEndWithServerShutdownInTheirDialect() throws {
        let proxy = try ProxyHarness(filterFile: Self.file, drainTimeout: .milliseconds(500))
        defer { proxy.stop() }
        let openai = try startStream(proxy.port, tokens: 1000, tps: 20)
        let anthropic = try startStream(proxy.port, path: "/v1/messages",
                                        json: #"{"model":"m","max_tokens":1000,"stream":true,"messages":[{"role":"user","content":"hi"}]}"#,
                                        tokens: 1000, tps: 20)
        proxy.engine.drain()
        let a = try openai.readResponse(timeout: .seconds(10))
        #expect(a.ending == .truncated)
        #expect(a.sseEvents.last?.data.contains("\"type\":\"server_shutdown\"") == true)
        let b = try anthropic.readResponse(timeout: .seconds(10))
        #expect(b.ending == .truncated)
        #expect(b.sseEvents.last?.event == "error")
        #expect(b.sseEvents.last?.data.contains("overloaded_error") == true)
        proxy.engine.waitUntilStopped()
        #expect(proxy.upstream.journal.wait(timeout: .seconds(5)) { $0.allSatisfy { $0.ending == .cancelledByPeer } })
    }

    @Test func theDrainFilterSetsTheTimeoutAndWhatClientsAreTold() throws {
        let file = """
        listeners: [{ address: 127.0.0.1:0 }]
        upstreams:
          fake: { endpoints: ["{{upstream}}"] }
        routes: [{ path_prefix: /, chain: main, upstream: fake }]
        chains:
          main:
            - filter: drain
              config: { timeout: 300ms, message: "maintenance: reconnect to another region" }
        """
        let proxy = try ProxyHarness(filterFile: file, drainTimeout: .seconds(30))
        defer { proxy.stop() }
        #expect(proxy.engine.drainTimeout == .milliseconds(300))
        let stream = try startStream(proxy.port, tokens: 1000, tps: 20)
        let started = ContinuousClock.now
        proxy.engine.drain()
        let rest = try stream.readResponse(timeout: .seconds(10))
        #expect(ContinuousClock.now - started < .seconds(10))
        #expect(rest.ending == .truncated)
        let last = try #require(rest.sseEvents.last)
        #expect(last.data.contains("server_shutdown"))
        #expect(last.data.contains("maintenance: reconnect to another region"))
        proxy.engine.waitUntilStopped()
    }
}
