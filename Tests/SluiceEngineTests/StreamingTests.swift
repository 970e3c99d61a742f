import SluiceFilterAPI
import SluiceHTTP
import SluiceMock
import SluiceTesting
import Testing

@Suite(.serialized)
struct StreamingTests {
    @Test func streamsAnOpenAIChatCompletionThroughTheProxy() throws {
        let proxy = try ProxyHarness()
        defer { proxy.stop() }
        let response = try TestClient.post(port: proxy.port, path: "/v1/chat/completions",
                                           json: TestClient.chatRequest(includeUsage: true))
        #expect(response.status == 200)
        #expect(response.ending == .complete)
        #expect(response.head.headers["content-type"] == "text/event-stream")
        #expect(response.head.headers["x-request-id"]?.count == 32)
        let data = response.sseEvents.map(\.data)
        #expect(data.last == "[DONE]")
        let content = data.filter { $0.contains("\"content\":\" ") }
        #expect(content.count == 10)
        #expect(data.contains { $0.contains("\"usage\":{\"prompt_tokens\"") })

        // What the upstream saw: the proxy's forwarding headers, and the body unchanged.
        let seen = try #require(proxy.upstream.journal.entries.first)
        #expect(seen.head.target == "/v1/chat/completions")
        #expect(seen.head.headers["x-forwarded-for"] == "127.0.0.1")
        #expect(seen.head.headers["x-forwarded-proto"] == "http")
        #expect(seen.head.headers["x-request-id"] == response.head.headers["x-request-id"])
        #expect(seen.bodyText == TestClient.chatRequest(includeUsage: true))
    }

    @Test func eventsKeepTheirSpacing() throws {
        var settings = ProxyHarness.fastMock
        settings.tokens = 50
        settings.tokensPerSecond = 50  // one event every 20 ms
        let proxy = try ProxyHarness(upstreamSettings: settings)
        defer { proxy.stop() }
        let response = try TestClient.post(port: proxy.port, path: "/v1/chat/completions", json: TestClient.chatRequest())
        #expect(response.ending == .complete)
        let arrivals = response.events.filter { $0.event?.data.contains("\"content\":\" ") == true }.map(\.at)
        #expect(arrivals.count == 50)
        // A proxy that buffers delivers events in clumps; one that streams keeps the upstream's rhythm.
        let gaps = zip(arrivals.dropFirst(), arrivals).map { $0 - $1 }
        let spread = gaps.filter { $0 >= .milliseconds(10) }.count
        #expect(spread >= 40, "gaps: \(gaps)")
        #expect(arrivals.last! - arrivals.first! >= .milliseconds(49 * 20 * 8 / 10))
    }

    @Test func anthropicStreamPassesThrough() throws {
        let proxy = try ProxyHarness()
        defer { proxy.stop() }
        let json = #"{"model":"claude-mock","max_tokens":5,"stream":true,"messages":[{"role":"user","content":"hi"}]}"#
        let response = try TestClient.post(port: proxy.port, path: "/v1/messages", json: json)
        #expect(response.status == 200)
        #expect(response.ending == .complete)
        let names = response.sseEvents.compactMap(\.event)
        #expect(names.first == "message_start")
        #expect(names.last == "message_stop")
        #expect(names.filter { $0 == "content_block_delta" }.count == 5)
    }

    @Test func nonStreamingResponseKeepsContentLength() throws {
        let proxy = try ProxyHarness()
        defer { proxy.stop() }
        let response = try TestClient.post(port: proxy.port, path: "/v1/chat/completions",
                                           json: TestClient.chatRequest(stream: false))
        #expect(response.status == 200)
        #expect(response.ending == .complete)
        #expect(response.head.headers["content-length"] == String(response.body.count))
        #expect(response.bodyText.contains("\"object\":\"chat.completion\""))
    }

    @Test func upstreamErrorStatusIsRelayed() throws {
        let proxy = try ProxyHarness()
        defer { proxy.stop() }
        let response = try TestClient.post(port: proxy.port, path: "/v1/chat/completions", json: TestClient.chatRequest(),
                                           headers: [("x-mock-status", "503"), ("x-mock-retry-after", "2")])
        #expect(response.status == 503)
        #expect(response.head.headers["retry-after"] == "2")
        #expect(response.ending == .complete)
    }

    @Test func unknownPathGetsNotFoundFromTheUpstream() throws {
        let proxy = try ProxyHarness()
        defer { proxy.stop() }
        let response = try TestClient.post(port: proxy.port, path: "/nope", json: "{}")
        #expect(response.status == 404)
    }
}
