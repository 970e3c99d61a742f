import SluiceFilterAPI
import SluiceHTTP
import SluiceTesting
import Testing

/// The fault matrix: shapes in, verdicts out. Each shape is a dialect, the framing of the
/// upstream's body and a fault the mock upstream makes (its `x-mock-*` headers), sent through the
/// proxy over real sockets; each verdict is what the client must see and what the access log must
/// say. A stream that did not end properly never looks complete to the client.
@Suite(.serialized)
struct FaultMatrixTests {
    enum Dialect: String, CaseIterable, Sendable {
        case openai, anthropic

        var path: String { self == .openai ? "/v1/chat/completions" : "/v1/messages" }

        func body(stream: Bool) -> String {
            switch self {
            case .openai: return TestClient.chatRequest(stream: stream)
            case .anthropic:
                return #"{"model":"claude-mock","max_tokens":10,"stream":\#(stream),"messages":[{"role":"user","content":"hi"}]}"#
            }
        }

        /// The dialect's final event.
        func isFinal(_ event: SSEEvent) -> Bool {
            self == .openai ? event.data == "[DONE]" : event.event == "message_stop"
        }

        /// An event of the upstream's own error (the mock's), as opposed to one the proxy wrote.
        func isUpstreamError(_ event: SSEEvent) -> Bool {
            event.data.contains("x-mock-error-event")
        }

        /// An error event the proxy wrote, of Sluice kind `kind`.
        func isProxyError(_ event: SSEEvent, kind: String) -> Bool {
            switch self {
            case .openai: return event.data.hasPrefix(#"{"error":{"type":"\#(kind)""#)
            case .anthropic: return event.event == "error" && event.data.contains(#""sluice_kind":"\#(kind)""#)
            }
        }
    }

    /// How the upstream delimits its body: chunked or by its close (streams, `x-mock-framing`), or
    /// Content-Length (whole, non-streamed answers).
    enum Framing: String, CaseIterable, Sendable {
        case chunked, close, length
    }

    /// What the client must see, and the access log's outcome.
    enum Verdict: Equatable, Sendable, CustomStringConvertible {
        /// 200, every content event, the final event last, a clean end, the connection kept.
        case cleanEnd
        /// 200, then the proxy's error event of this kind last, no final event, no clean end, closed.
        case cut(kind: String)
        /// 200, the upstream's error event last as it sent it, no final event, ended as the upstream ended it.
        case upstreamErrorEvent
        /// 200 and a body cut short of its Content-Length, closed (a whole answer).
        case shortBody
        /// This status with a JSON error body, whole.
        case status(Int)

        var description: String {
            switch self {
            case .cleanEnd: return "clean end"
            case .cut(let kind): return "error event \(kind), no clean end, closed"
            case .upstreamErrorEvent: return "the upstream's error event, as it ended"
            case .shortBody: return "short body, closed"
            case .status(let status): return "status \(status)"
            }
        }
    }

    struct Shape: Sendable, CustomStringConvertible {
        var dialect: Dialect
        var framing: Framing
        /// The fault's `x-mock-*` header, or nil for none.
        var fault: (String, String)?
        var verdict: Verdict
        var outcome: String

        var description: String {
            "\(dialect.rawValue), \(framing.rawValue), \(fault.map { "\($0.0): \($0.1)" } ?? "no fault") → \(verdict), \(outcome)"
        }
    }

    /// Every shape and its verdict.
    static let shapes: [Shape] = {
        var shapes: [Shape] = []
        for dialect in Dialect.allCases {
            for framing in [Framing.chunked, .close] {
                let streamed: [((String, String)?, Verdict, String)] = [
                    (nil, .cleanEnd, "completed"),
                    (("x-mock-head-delay", "30ms"), .cleanEnd, "completed"),
                    (("x-mock-trickle", "1ms"), .cleanEnd, "completed"),
                    (("x-mock-malformed-after", "2"), .cleanEnd, "completed"),
                    (("x-mock-reset-after", "3"), .cut(kind: "upstream_reset"), "truncated"),
                    (("x-mock-reset-after", "0"), .cut(kind: "upstream_reset"), "truncated"),
                    (("x-mock-close-after", "3"), .cut(kind: "upstream_reset"), "truncated"),
                    (("x-mock-end-after", "3"), .cut(kind: "upstream_reset"), "truncated"),
                    (("x-mock-end-after", "0"), .cut(kind: "upstream_reset"), "truncated"),
                    (("x-mock-error-event", "2"), .upstreamErrorEvent, "upstream_error"),
                    (("x-mock-error-event", "0"), .upstreamErrorEvent, "upstream_error"),
                    (("x-mock-status", "503"), .status(503), "completed"),
                    (("x-mock-status", "429"), .status(429), "completed"),
                ]
                for (fault, verdict, outcome) in streamed {
                    shapes.append(Shape(dialect: dialect, framing: framing, fault: fault, verdict: verdict, outcome: outcome))
                }
            }
            let whole: [((String, String)?, Verdict, String)] = [
                (nil, .cleanEnd, "completed"),
                (("x-mock-close-after", "1"), .shortBody, "truncated"),
                (("x-mock-reset-after", "1"), .shortBody, "truncated"),
                (("x-mock-reset-after", "0"), .status(502), "failed"),
                (("x-mock-status", "503"), .status(503), "completed"),
            ]
            for (fault, verdict, outcome) in whole {
                shapes.append(Shape(dialect: dialect, framing: .length, fault: fault, verdict: verdict, outcome: outcome))
            }
        }
        return shapes
    }()

    @Test func theMatrixCoversEveryDialectAndFraming() {
        #expect(Self.shapes.count == 62)
        for dialect in Dialect.allCases {
            for framing in Framing.allCases {
                #expect(Self.shapes.contains { $0.dialect == dialect && $0.framing == framing })
            }
        }
    }

    @Test(arguments: Self.shapes)
    func shape(_ shape: Shape) throws {
        let log = AccessLogFile()
        let proxy = try ProxyHarness(filterFile: ProxyHarness.filterFile(), accessLog: log.spec)
        defer { proxy.stop() }
        var headers = [("x-request-id", "matrix")]
        if shape.framing == .close { headers.append(("x-mock-framing", "close")) }
        if let fault = shape.fault { headers.append(fault) }
        let streamed = shape.framing != .length
        let client = try TestClient(port: proxy.port)
        defer { client.close() }
        var fields = HTTPHeaders([("host", "127.0.0.1:\(proxy.port)"), ("content-type", "application/json")])
        for (name, value) in headers { fields.add(name, value) }
        try client.send(HTTPRequestHead(method: "POST", target: shape.dialect.path, headers: fields),
                        body: Array(shape.dialect.body(stream: streamed).utf8))
        let response = try client.readResponse()
        let events = response.sseEvents
        let dialect = shape.dialect

        switch shape.verdict {
        case .cleanEnd:
            #expect(response.status == 200)
            #expect(response.ending == .complete)
            #expect(response.head.headers["connection"] == nil, "the connection should be kept")
            #expect(!client.isClosedByPeer(within: .milliseconds(20)))
            if streamed {
                #expect(events.last.map(dialect.isFinal) == true, "last: \(String(describing: events.last))")
                #expect(!events.contains { $0.data.contains(#""error""#) })
            } else {
                #expect(response.bodyText.contains(#""usage""#))
            }
        case .cut(let kind):
            #expect(response.status == 200)
            #expect(response.ending == .truncated)
            #expect(!events.contains(where: dialect.isFinal))
            let last = try #require(events.last)
            #expect(dialect.isProxyError(last, kind: kind), "last: \(last)")
            #expect(client.isClosedByPeer(within: .seconds(5)))
        case .upstreamErrorEvent:
            #expect(response.status == 200)
            #expect(!events.contains(where: dialect.isFinal))
            let last = try #require(events.last)
            #expect(dialect.isUpstreamError(last), "last: \(last)")
            // The mock ended its message properly after the event: so does the proxy.
            #expect(response.ending == .complete)
        case .shortBody:
            #expect(response.status == 200)
            #expect(response.ending == .truncated)
            #expect(client.isClosedByPeer(within: .seconds(5)))
        case .status(let status):
            #expect(response.status == status)
            #expect(response.ending == .complete)
            #expect(response.head.headers["content-type"] == "application/json")
        }

        let entry = try log.entry(requestID: "matrix", afterLines: 1)
        #expect(entry["outcome"] as? String == shape.outcome, "\(entry)")
        #expect(entry["status"] as? Int == response.status)
    }
}
