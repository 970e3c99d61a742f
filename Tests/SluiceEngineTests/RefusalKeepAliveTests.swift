import SluiceHTTP
import SluiceTesting
import Testing

/// A response the proxy makes itself before any upstream (a filter's refusal, a reply, no route)
/// keeps the client's connection when the request was read whole, so a rate-limited client does
/// not reconnect (and handshake) for every retry; it closes only when body bytes were left unread
/// or the client asked to close.
@Suite(.serialized)
struct RefusalKeepAliveTests {
    private func head(_ port: Int, path: String = "/v1/chat/completions", _ extra: [(String, String)] = []) -> HTTPRequestHead {
        var headers = HTTPHeaders([("host", "127.0.0.1:\(port)"), ("content-type", "application/json")])
        for (name, value) in extra { headers.add(name, value) }
        return HTTPRequestHead(method: "POST", target: path, headers: headers)
    }

    @Test func aRateLimitedRequestWhoseBodyWasReadKeepsTheConnection() throws {
        let proxy = try ProxyHarness(chain: "- filter: token_bucket\n  config: { key: global, capacity: 1, refill_per_second: 0 }")
        defer { proxy.stop() }
        let client = try TestClient(port: proxy.port)
        defer { client.close() }
        let body = Array(TestClient.chatRequest(stream: false).utf8)
        try client.send(head(proxy.port), body: body)
        let admitted = try client.readResponse()
        #expect(admitted.status == 200)
        for _ in 0..<2 {
            try client.send(head(proxy.port), body: body)
            let refused = try client.readResponse()
            #expect(refused.status == 429)
            #expect(refused.ending == .complete)
            #expect(refused.head.headers["connection"] == nil, "a refusal closed a connection whose request was read whole")
        }
        #expect(!client.isClosedByPeer(within: .milliseconds(50)))
        #expect(proxy.upstream.journal.connectionCount == 1)
    }

    /// A refusal with body bytes still unread (100 announced, 10 sent: the rest would be read as
    /// the next request), or to a client that asked to close, closes.
    @Test(arguments: [
        ([("content-length", "100")], String(repeating: "x", count: 10)),
        ([("connection", "close")], TestClient.chatRequest(stream: false)),
    ])
    func aRefusalClosesWhenBodyBytesRemainOrTheClientAskedTo(headers: [(String, String)], body: String) throws {
        let proxy = try ProxyHarness(chain: "- filter: token_bucket\n  config: { key: global, capacity: 1, refill_per_second: 0 }")
        defer { proxy.stop() }
        #expect(try TestClient.post(port: proxy.port, path: "/v1/chat/completions", json: TestClient.chatRequest(stream: false)).status == 200)
        let client = try TestClient(port: proxy.port)
        defer { client.close() }
        try client.send(head(proxy.port, headers), body: Array(body.utf8))
        let refused = try client.readResponse()
        #expect(refused.status == 429)
        #expect(refused.head.headers["connection"] == "close")
        #expect(client.isClosedByPeer(within: .seconds(5)))
    }

    @Test func aRequestNoRouteTakesKeepsTheConnectionOnceItsBodyWasRead() throws {
        let proxy = try ProxyHarness(filterFile: ProxyHarness.filterFile().replacingOccurrences(of: "path_prefix: /", with: "path_prefix: /v1/"))
        defer { proxy.stop() }
        let client = try TestClient(port: proxy.port)
        defer { client.close() }
        try client.send(head(proxy.port, path: "/elsewhere"), body: Array(TestClient.chatRequest(stream: false).utf8))
        let missing = try client.readResponse()
        #expect(missing.status == 404)
        #expect(missing.head.headers["connection"] == nil)
        try client.send(head(proxy.port), body: Array(TestClient.chatRequest(stream: false).utf8))
        #expect(try client.readResponse().status == 200)
    }
}
