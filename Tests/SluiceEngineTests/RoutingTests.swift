import SluiceMock
import SluiceTesting
import Testing

@Suite(.serialized)
struct RoutingTests {
    @Test func routesByHostThenPathPrefixAndAnswers404WhenNothingMatches() throws {
        let other = MockServer(settings: ProxyHarness.fastMock)
        try other.start()
        defer { other.stop() }
        let proxy = try ProxyHarness(filterFile: """
        listeners: [{ address: 127.0.0.1:0 }]
        upstreams:
          fake: { endpoints: ["{{upstream}}"] }
          other: { endpoints: ["http://127.0.0.1:\(other.port)"] }
        routes:
          - { name: by-host, host: other.test, path_prefix: /v1/, chain: main, upstream: other }
          - { name: api, path_prefix: /v1/, chain: main, upstream: fake }
        chains: { main: [] }
        """)
        defer { proxy.stop() }
        let byHost = try TestClient.post(port: proxy.port, path: "/v1/chat/completions", json: TestClient.chatRequest(stream: false),
                                         headers: [])
        #expect(byHost.status == 200)
        #expect(proxy.upstream.journal.entries.count == 1)

        let client = try TestClient(port: proxy.port)
        defer { client.close() }
        try client.sendRaw(Array("GET /v1/models HTTP/1.1\r\nHost: other.test:8080\r\n\r\n".utf8))
        #expect(try client.readResponse().status == 200)
        #expect(other.journal.entries.count == 1)
        #expect(other.journal.entries.first?.head.headers["x-forwarded-host"] == "other.test:8080")

        try client.sendRaw(Array("GET /elsewhere HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
        let missing = try client.readResponse()
        #expect(missing.status == 404)
        #expect(missing.bodyText.contains("\"type\":\"not_found\""))
    }

    @Test func roundRobinSpreadsRequestsOverEndpoints() throws {
        let second = MockServer(settings: ProxyHarness.fastMock)
        try second.start()
        defer { second.stop() }
        let proxy = try ProxyHarness(filterFile: """
        listeners: [{ address: 127.0.0.1:0 }]
        upstreams:
          pair: { balance: round_robin, endpoints: ["{{upstream}}", "http://127.0.0.1:\(second.port)"] }
        routes: [{ path_prefix: /, chain: main, upstream: pair }]
        chains: { main: [] }
        """, workers: 1)
        defer { proxy.stop() }
        for _ in 0..<6 {
            let r = try TestClient.post(port: proxy.port, path: "/v1/chat/completions", json: TestClient.chatRequest(stream: false))
            #expect(r.status == 200)
        }
        #expect(proxy.upstream.journal.entries.count == 3)
        #expect(second.journal.entries.count == 3)
    }

    @Test func hopByHopHeadersAreRemovedAndBasePathIsPrepended() throws {
        let proxy = try ProxyHarness(filterFile: """
        listeners: [{ address: 127.0.0.1:0 }]
        upstreams:
          fake: { endpoints: ["{{upstream}}/base"] }
        routes: [{ path_prefix: /, chain: main, upstream: fake }]
        chains: { main: [] }
        """)
        defer { proxy.stop() }
        let client = try TestClient(port: proxy.port)
        defer { client.close() }
        try client.sendRaw(Array("GET /v1/models?x=1 HTTP/1.1\r\nHost: x\r\nConnection: keep-alive, X-Secret-Hop\r\nX-Secret-Hop: 1\r\nKeep-Alive: timeout=5\r\nTE: trailers\r\nX-Request-Id: abc-123\r\nX-Forwarded-For: 10.0.0.1\r\n\r\n".utf8))
        let response = try client.readResponse()
        #expect(response.status == 404)  // the mock has no /base/v1/models
        let seen = try #require(proxy.upstream.journal.entries.first)
        #expect(seen.head.target == "/base/v1/models?x=1")
        #expect(seen.head.headers["x-secret-hop"] == nil)
        #expect(seen.head.headers["keep-alive"] == nil)
        #expect(seen.head.headers["te"] == nil)
        #expect(seen.head.headers["x-request-id"] == "abc-123")
        #expect(response.head.headers["x-request-id"] == "abc-123")
        #expect(seen.head.headers["x-forwarded-for"] == "10.0.0.1, 127.0.0.1")
    }
}
