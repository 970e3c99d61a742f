import Foundation
import SluiceHTTP
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

@Suite(.serialized)
struct BalancingAndPoolTests {
    @Test func leastActiveSendsNewStreamsToTheIdleEndpoint() throws {
        let second = MockServer(settings: ProxyHarness.fastMock)
        try second.start()
        defer { second.stop() }
        let proxy = try ProxyHarness(filterFile: """
        listeners: [{ address: 127.0.0.1:0 }]
        upstreams:
          pair: { balance: least_active, endpoints: ["{{upstream}}", "http://127.0.0.1:\(second.port)"] }
        routes: [{ path_prefix: /, chain: main, upstream: pair }]
        chains: { main: [] }
        """, workers: 1)
        defer { proxy.stop() }
        // A long stream occupies one endpoint; while it runs, every new request must go to the other.
        let long = try TestClient(port: proxy.port)
        defer { long.close() }
        try long.send(HTTPRequestHead(method: "POST", target: "/v1/chat/completions",
                                      headers: HTTPHeaders([("host", "x"), ("x-mock-tokens", "400"), ("x-mock-tps", "100")])),
                      body: Array(TestClient.chatRequest().utf8))
        _ = try long.readHead()
        let busyIsFirst = proxy.upstream.journal.entries.count == 1
        for _ in 0..<4 {
            let r = try TestClient.post(port: proxy.port, path: "/v1/chat/completions", json: TestClient.chatRequest(stream: false))
            #expect(r.status == 200)
        }
        let idle = busyIsFirst ? second.journal : proxy.upstream.journal
        let busy = busyIsFirst ? proxy.upstream.journal : second.journal
        #expect(idle.entries.count == 4)
        #expect(busy.entries.count == 1)
    }

    @Test func idlePooledConnectionsAreClosedAfterTheIdleTimeout() throws {
        let proxy = try ProxyHarness(filterFile: """
        listeners: [{ address: 127.0.0.1:0 }]
        upstreams:
          fake: { endpoints: ["{{upstream}}"], pool: { idle_timeout: 1s } }
        routes: [{ path_prefix: /, chain: main, upstream: fake }]
        chains: { main: [] }
        """, workers: 1)
        defer { proxy.stop() }
        #expect(try TestClient.post(port: proxy.port, path: "/v1/models", json: "").status == 405)
        // The pooled connection is closed by the proxy once idle: the mock sees its peer leave.
        let closed = proxy.upstream.journal.wait(timeout: .seconds(5)) { _ in proxy.upstream.openConnections == 0 }
        #expect(closed)
        #expect(try TestClient.post(port: proxy.port, path: "/v1/models", json: "").status == 405)
        #expect(proxy.upstream.journal.connectionCount == 2)
    }

    /// The idle timer is not disarmed when a pooled connection is reused: when it fires it finds the
    /// connection idle for less than its timeout and waits for the rest. A connection reused well
    /// within its timeout, for longer than the timeout in all, is never closed; idle, it is.
    @Test func aConnectionReusedWithinItsIdleTimeoutStaysOpenPastIt() throws {
        let proxy = try ProxyHarness(filterFile: """
        listeners: [{ address: 127.0.0.1:0 }]
        upstreams:
          fake: { endpoints: ["{{upstream}}"], pool: { idle_timeout: 2s } }
        routes: [{ path_prefix: /, chain: main, upstream: fake }]
        chains: { main: [] }
        """, workers: 1)
        defer { proxy.stop() }
        // Eleven requests 0.3 s apart: 3 s in all, the connection never idle for more than 0.3 s.
        for i in 0..<11 {
            if i > 0 { Thread.sleep(forTimeInterval: 0.3) }
            #expect(try TestClient.post(port: proxy.port, path: "/v1/models", json: "").status == 405)
        }
        #expect(proxy.upstream.journal.connectionCount == 1)
        let closed = proxy.upstream.journal.wait(timeout: .seconds(6)) { _ in proxy.upstream.openConnections == 0 }
        #expect(closed)
    }
}
