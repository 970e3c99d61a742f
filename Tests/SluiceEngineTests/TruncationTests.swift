import SluiceFilterAPI
import SluiceHTTP
import SluiceTesting
import Testing

/// A stream the upstream cut must never look complete to the client.
@Suite(.serialized)
struct TruncationTests {
    /// A filter file whose only upstream, group `dead`, refuses connections (port 1).
    static let deadUpstreamFile = """
        listeners: [{ address: 127.0.0.1:0 }]
        upstreams:
          dead: { endpoints: ["http://127.0.0.1:1"] }
        routes: [{ path_prefix: /, chain: main, upstream: dead }]
        chains: { main: [] }
        """

    @Test(arguments: ["x-mock-reset-after", "x-mock-close-after"])
    func openAIStreamCutMidwayEndsWithAnErrorEventAndNoLastChunk(fault: String) throws {
        let proxy = try ProxyHarness()
        defer { proxy.stop() }
        let response = try TestClient.post(port: proxy.port, path: "/v1/chat/completions", json: TestClient.chatRequest(),
                                           headers: [(fault, "3")])
        #expect(response.status == 200)
        #expect(response.ending == .truncated)
        let events = response.sseEvents
        #expect(events.filter { $0.data.contains("\"content\":\" ") }.count == 3)
        let last = try #require(events.last)
        #expect(last.data.hasPrefix("{\"error\":"))
        #expect(last.data.contains("upstream_reset"))
        #expect(!events.contains { $0.data == "[DONE]" })
    }

    @Test func anthropicStreamCutMidwayGetsAnAnthropicErrorEvent() throws {
        let proxy = try ProxyHarness()
        defer { proxy.stop() }
        let json = #"{"model":"claude-mock","max_tokens":8,"stream":true,"messages":[{"role":"user","content":"hi"}]}"#
        let response = try TestClient.post(port: proxy.port, path: "/v1/messages", json: json, headers: [("x-mock-reset-after", "2")])
        #expect(response.ending == .truncated)
        let last = try #require(response.sseEvents.last)
        #expect(last.event == "error")
        #expect(last.data.contains("\"type\":\"error\""))
        #expect(!response.sseEvents.contains { $0.event == "message_stop" })
    }

    @Test func nonStreamingBodyCutShortIsNotPassedOffAsComplete() throws {
        let proxy = try ProxyHarness()
        defer { proxy.stop() }
        let response = try TestClient.post(port: proxy.port, path: "/v1/chat/completions",
                                           json: TestClient.chatRequest(stream: false), headers: [("x-mock-close-after", "1")])
        #expect(response.ending == .truncated)
    }

    @Test func upstreamResetBeforeTheHeadIsA502() throws {
        let proxy = try ProxyHarness()
        defer { proxy.stop() }
        let response = try TestClient.post(port: proxy.port, path: "/v1/chat/completions", json: TestClient.chatRequest(stream: false),
                                           headers: [("x-mock-reset-after", "0")])
        #expect(response.status == 502)
        #expect(response.bodyText.contains("\"type\":\"upstream_reset\""))
    }

    @Test func unreachableUpstreamIsA502WithAJSONError() throws {
        let proxy = try ProxyHarness(filterFile: Self.deadUpstreamFile)
        defer { proxy.stop() }
        let response = try TestClient.post(port: proxy.port, path: "/v1/chat/completions", json: TestClient.chatRequest())
        #expect(response.status == 502)
        #expect(response.bodyText.contains("\"type\":\"connect_failed\""))
    }
}
