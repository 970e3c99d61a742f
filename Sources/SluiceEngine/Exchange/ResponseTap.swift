import SluiceFilterAPI
import SluiceHTTP

/// Reads one attempt's response body as it passes, for what Sluice knows about LLM streams: it parses
/// SSE events, classifies each one from its bytes, counts it and its tokens, and records the time to
/// the first token and the gaps between tokens; of a non-streamed JSON response it keeps a copy for
/// its `usage`. It never writes anything anywhere: what goes to the client is the exchange's business.
///
/// A value owned by the exchange, made when the response head arrives and dropped with the attempt.
/// Loop thread only.
struct ResponseTap {
    private enum Reading {
        /// `text/event-stream`: every event is parsed and classified.
        case events(SSEParser)
        /// A 2xx JSON body, copied (up to `usageBodyLimit`) to read its `usage` at the end.
        case jsonUsage([UInt8])
        /// Anything else, or a JSON body that outgrew the limit: bytes only pass.
        case nothing
    }

    /// The largest non-streamed JSON body read for its usage.
    static let usageBodyLimit = 1 << 20

    private var reading: Reading

    /// The tap for a response with this head.
    init(head: HTTPResponseHead) {
        let contentType = head.headers["content-type"]?.lowercased() ?? ""
        if contentType.hasPrefix("text/event-stream") {
            reading = .events(SSEParser())
        } else if (200..<300).contains(head.status) && contentType.contains("json") {
            reading = .jsonUsage([])
        } else {
            reading = .nothing
        }
    }

    /// The response is an SSE stream: its bytes go through `scan`, not `keep`.
    var readsEvents: Bool {
        if case .events = reading { return true }
        return false
    }

    /// Part of an event (or a line) was read and not yet dispatched: a client that was sent the
    /// bytes as they came is inside an event now.
    var hasPartialEvent: Bool {
        if case .events(let parser) = reading { return parser.hasPartialEvent }
        return false
    }

    /// Body bytes of a response that is not an SSE stream.
    mutating func keep(_ bytes: UnsafeRawBufferPointer) {
        guard case .jsonUsage(var body) = reading else { return }
        reading = .nothing  // so `body` is the only reference while it grows
        if body.count + bytes.count <= Self.usageBodyLimit {
            body.append(contentsOf: bytes)
            reading = .jsonUsage(body)
        }
    }

    /// The usage of the whole non-streamed JSON body, when it had one (call once the body ended).
    func usage(dialect: StreamDialect) -> TokenUsage? {
        guard case .jsonUsage(let body) = reading else { return nil }
        return LLMEventClassifier.usage(ofResponseBody: body, dialect: dialect)
    }

    /// Parses the SSE events in `bytes`. For each event, in order: counts it in `exchange.counters`,
    /// classifies it in the exchange's dialect, records it in `exchange.tokens`, and for a content
    /// event the first-token and gap timings (in `exchange.timings` and `metrics`); then calls
    /// `onEvent` with the event's bytes and meaning. Once `onEvent` answers false, the rest of
    /// `bytes` is parsed but nothing more is counted or reported. Comments go to `onComment`.
    /// Throws what the parser throws (an event over its size limit).
    mutating func scan(_ bytes: UnsafeRawBufferPointer, exchange: Exchange, metrics: RouteMetrics,
                       onComment: (UnsafeRawBufferPointer) -> Void,
                       onEvent: (SSEEventView, LLMEventInfo) -> Bool) throws(SSEParseError) {
        guard case .events(var parser) = reading else { return }
        reading = .nothing  // the parser is moved out while it runs, not copied
        defer { reading = .events(parser) }
        var goingOn = true
        let dialect = exchange.dialect
        try parser.scan(bytes) { item in
            guard goingOn else { return }
            switch item {
            case .comment(let text):
                onComment(text)
            case .event(let view):
                exchange.counters.events += 1
                let info = LLMEventClassifier.classify(view, dialect: dialect)
                exchange.tokens.record(info)
                if info.kind == .content { Self.recordContentEvent(exchange, metrics) }
                goingOn = onEvent(view, info)
            }
        }
    }

    /// A content event arrived: time to first token, the gap since the last one.
    private static func recordContentEvent(_ exchange: Exchange, _ metrics: RouteMetrics) {
        let now = exchange.clock.now()
        if exchange.timings.firstToken == nil {
            exchange.timings.firstToken = now
            metrics.timeToFirstToken.record(now.since(exchange.timings.start))
            if let head = exchange.timings.responseHead { metrics.firstContentEvent.record(now.since(head)) }
        }
        if let last = exchange.timings.lastToken {
            let gap = now.since(last)
            metrics.tokenGap.record(gap)
            if gap > exchange.timings.longestTokenGap { exchange.timings.longestTokenGap = gap }
        }
        exchange.timings.lastToken = now
    }
}
