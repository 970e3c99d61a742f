import SluiceFilterAPI
import SluiceHTTP
import SluiceTesting
import Testing

/// An event stream in a dialect with a final event (OpenAI chat and completions `[DONE]`, the
/// Responses API `response.completed`, Anthropic `message_stop`) that ends without it was cut,
/// however cleanly the upstream's connection ended: the client gets an error event and no clean
/// end, and the access log says `truncated`. Streams of no known dialect end as the upstream
/// ended them.
@Suite(.serialized)
struct FinalEventTests {
    private static let anthropicRequest = #"{"model":"claude-mock","max_tokens":8,"stream":true,"messages":[{"role":"user","content":"hi"}]}"#

    /// A proxy in front of the mock, or of `endpoint` when given, logging to `log`.
    private func proxy(log: AccessLogFile, endpoint: String = "{{upstream}}") throws -> ProxyHarness {
        try ProxyHarness(filterFile: ProxyHarness.filterFile().replacingOccurrences(of: "{{upstream}}", with: endpoint),
                         accessLog: log.spec)
    }

    @Test(arguments: ["close", "chunked"])
    func openAIStreamEndedCleanlyBeforeDoneIsTruncated(framing: String) throws {
        let log = AccessLogFile()
        let proxy = try proxy(log: log)
        defer { proxy.stop() }
        let response = try TestClient.post(port: proxy.port, path: "/v1/chat/completions", json: TestClient.chatRequest(),
                                           headers: [("x-mock-framing", framing), ("x-mock-end-after", "3"), ("x-request-id", "cut-\(framing)")])
        #expect(response.status == 200)
        #expect(response.ending == .truncated, "a clean end for a stream without [DONE]")
        let events = response.sseEvents
        #expect(events.filter { $0.data.contains(#""content":" "#) }.count == 3)
        #expect(!events.contains { $0.data == "[DONE]" })
        let last = try #require(events.last)
        #expect(last.data.hasPrefix(#"{"error":{"type":"upstream_reset""#), "\(last.data)")
        let entry = try log.entry(requestID: "cut-\(framing)", afterLines: 1)
        #expect(entry["outcome"] as? String == "truncated")
        #expect(entry["error"] as? String == "upstream_reset")
    }

    @Test(arguments: ["close", "chunked"])
    func anthropicStreamEndedCleanlyBeforeMessageStopIsTruncated(framing: String) throws {
        let log = AccessLogFile()
        let proxy = try proxy(log: log)
        defer { proxy.stop() }
        let response = try TestClient.post(port: proxy.port, path: "/v1/messages", json: Self.anthropicRequest,
                                           headers: [("x-mock-framing", framing), ("x-mock-end-after", "2"), ("x-request-id", "cut-\(framing)")])
        #expect(response.status == 200)
        #expect(response.ending == .truncated)
        #expect(!response.sseEvents.contains { $0.event == "message_stop" })
        let last = try #require(response.sseEvents.last)
        #expect(last.event == "error")
        #expect(last.data.contains(#""sluice_kind":"upstream_reset""#), "\(last.data)")
        #expect(try log.entry(requestID: "cut-\(framing)", afterLines: 1)["outcome"] as? String == "truncated")
    }

    @Test(arguments: [(Self.anthropicRequest, "/v1/messages"), (TestClient.chatRequest(), "/v1/chat/completions")])
    func aCloseDelimitedStreamWithItsFinalEventIsComplete(json: String, path: String) throws {
        let log = AccessLogFile()
        let proxy = try proxy(log: log)
        defer { proxy.stop() }
        let response = try TestClient.post(port: proxy.port, path: path, json: json,
                                           headers: [("x-mock-framing", "close"), ("x-request-id", "whole")])
        #expect(response.ending == .complete)
        #expect(response.head.headers["connection"] != "close")
        let last = try #require(response.sseEvents.last)
        #expect(last.data == "[DONE]" || last.event == "message_stop")
        #expect(try log.entry(requestID: "whole", afterLines: 1)["outcome"] as? String == "completed")
    }

    @Test func aResponsesAPIStreamWithoutResponseCompletedIsTruncated() throws {
        let upstream = try CannedUpstream(closeDelimitedEventStream: """
        event: response.created\ndata: {"type":"response.created","response":{"status":"in_progress"}}\n
        event: response.output_text.delta\ndata: {"type":"response.output_text.delta","delta":"Hi"}\n\n
        """)
        defer { upstream.stop() }
        let log = AccessLogFile()
        let proxy = try proxy(log: log, endpoint: "http://127.0.0.1:\(upstream.port)")
        defer { proxy.stop() }
        let response = try TestClient.post(port: proxy.port, path: "/v1/responses", json: #"{"model":"m","input":"hi","stream":true}"#,
                                           headers: [("x-request-id", "responses-cut")])
        #expect(response.ending == .truncated)
        #expect(response.sseEvents.last?.data.hasPrefix(#"{"error":{"type":"upstream_reset""#) == true)
        #expect(try log.entry(requestID: "responses-cut", afterLines: 1)["outcome"] as? String == "truncated")
    }

    @Test func aResponsesAPIStreamEndingInResponseCompletedIsComplete() throws {
        let upstream = try CannedUpstream(closeDelimitedEventStream: """
        event: response.output_text.delta\ndata: {"type":"response.output_text.delta","delta":"Hi"}\n
        event: response.completed\ndata: {"type":"response.completed","response":{"status":"completed"}}\n\n
        """)
        defer { upstream.stop() }
        let proxy = try proxy(log: AccessLogFile(), endpoint: "http://127.0.0.1:\(upstream.port)")
        defer { proxy.stop() }
        let response = try TestClient.post(port: proxy.port, path: "/v1/responses", json: #"{"model":"m","input":"hi","stream":true}"#)
        #expect(response.ending == .complete)
        #expect(response.sseEvents.last?.event == "response.completed")
    }

    /// Events in no shape Sluice knows (not JSON, or JSON of no LLM dialect): no final event is
    /// expected, so the upstream's clean close ends the stream cleanly, as before.
    @Test func aStreamOfNoKnownDialectEndsAsTheUpstreamEndedIt() throws {
        let upstream = try CannedUpstream(closeDelimitedEventStream: "data: tick 1\n\ndata: {\"temperature\":21}\n\n")
        defer { upstream.stop() }
        let log = AccessLogFile()
        let proxy = try proxy(log: log, endpoint: "http://127.0.0.1:\(upstream.port)")
        defer { proxy.stop() }
        let response = try TestClient.post(port: proxy.port, path: "/v1/chat/completions", json: TestClient.chatRequest(),
                                           headers: [("x-request-id", "unknown")])
        #expect(response.ending == .complete)
        #expect(response.sseEvents.map(\.data) == ["tick 1", #"{"temperature":21}"#])
        #expect(try log.entry(requestID: "unknown", afterLines: 1)["outcome"] as? String == "completed")
    }
}
