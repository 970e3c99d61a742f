import SluiceHTTP
import SluiceMock
import SluiceTesting

/// What the `resumable` tests do as a client: start a stream, read some of its events, resume it.
enum ResumableTestClient {
    /// A mock that streams `tokens` words at `tps` per second.
    static func mock(tokens: Int, tps: Double) -> MockSettings {
        var settings = ProxyHarness.fastMock
        settings.tokens = tokens
        settings.tokensPerSecond = tps
        return settings
    }

    /// Starts a streamed chat completion as `credential` (none: no `Authorization`) and reads its head.
    static func startStream(_ proxy: ProxyHarness, credential: String? = "Bearer alice", path: String = "/v1/chat/completions",
                            json: String = TestClient.chatRequest()) throws -> (TestClient, HTTPResponseHead) {
        let client = try TestClient(port: proxy.port)
        var headers = HTTPHeaders([("host", "127.0.0.1:\(proxy.port)"), ("content-type", "application/json")])
        if let credential { headers.add("authorization", credential) }
        try client.send(HTTPRequestHead(method: "POST", target: path, headers: headers), body: Array(json.utf8))
        return (client, try client.readHead())
    }

    /// Reads `count` events of the stream under way (fewer if it ends first).
    static func readEvents(_ client: TestClient, _ count: Int) throws -> [SSEEvent] {
        var events: [SSEEvent] = []
        while events.count < count, let item = try client.readItem() {
            if let event = item.event { events.append(event) }
        }
        return events
    }

    /// `GET target` as `credential`, with `Last-Event-ID` when given; the whole answer.
    static func resume(_ proxy: ProxyHarness, _ target: String, credential: String? = "Bearer alice",
                       lastEventID: String? = nil) throws -> TestResponse {
        let client = try TestClient(port: proxy.port)
        defer { client.close() }
        var headers = HTTPHeaders([("host", "127.0.0.1:\(proxy.port)")])
        if let credential { headers.add("authorization", credential) }
        if let lastEventID { headers.add("last-event-id", lastEventID) }
        try client.send(HTTPRequestHead(method: "GET", target: target, headers: headers))
        return try client.readResponse(timeout: .seconds(20))
    }
}
