import SluiceHTTP

/// The faults and overrides one request asks for with `x-mock-*` headers.
///
/// | header | value | effect |
/// |---|---|---|
/// | `x-mock-status` | `400`…`599` | answer with this status and a JSON error body (`{"error":{"type":…,"message":…}}`; Anthropic's `{"type":"error","error":{…}}` on `/v1/messages`) instead of a completion. Head delay, retry-after and trickle still apply; the other faults do not. |
/// | `x-mock-retry-after` | seconds, e.g. `2` | add `Retry-After: <seconds>` to the response head (meant for 429/503). |
/// | `x-mock-head-delay` | duration, e.g. `500ms` | wait this long before sending the response head. |
/// | `x-mock-stall-after` | N | after N content events, send nothing more and keep the connection open until the client closes. |
/// | `x-mock-reset-after` | N | after N content events, abort the connection (RST). |
/// | `x-mock-close-after` | N | after N content events, close the connection (FIN) without finishing the message: no last chunk, so the client sees an HTTP-level truncation. |
/// | `x-mock-error-event` | N | after N content events (0 = before any), send an SSE error event in the request's dialect and end the message properly (the 200 head is already out). Ignored by non-streaming responses. |
/// | `x-mock-end-after` | N | after N content events, end the message properly (last chunk, or the close of a close-delimited body) without the finishing events (`[DONE]`, `message_stop`): a cut the HTTP framing cannot show. Ignored by non-streaming responses. |
/// | `x-mock-framing` | `chunked` or `close` | how a streamed body is delimited (`MockFraming`); default chunked (close for HTTP/1.0 requests). Ignored by non-streaming responses, which carry Content-Length. |
/// | `x-mock-malformed-after` | N | after N content events, send one event whose `data` is not valid JSON, then continue normally. A non-streaming response gets a JSON body cut in the middle instead. |
/// | `x-mock-trickle` | duration, e.g. `20ms` | send every event (every body, when not streaming) in pieces of `tricklePieceSize` bytes, pausing this long between pieces. |
/// | `x-mock-ttft` | duration | time to first token for this request. |
/// | `x-mock-tps` | number above 0 | tokens per second for this request. |
/// | `x-mock-tokens` | N | token count for this request (`max_tokens` still caps it). |
///
/// Durations are written like `150ms`, `2s`, `1.5s`, `250us` or `0`; N is a whole number.
/// Content events and where an interruption lands are defined by `MockInterruption`. At most one
/// of the stall, reset, close, error-event and end-after headers may be given. On a non-streaming response
/// (or `/v1/models`), stall, reset and close with N = 0 happen instead of the head, and with N > 0
/// after the head and half of the body.
/// Head delay, retry-after and trickle also apply to the mock's own errors (400, 404, 405).
/// A value that cannot be read, or that asks for more than the caps (`maxTokens` tokens,
/// `maxDelay` for each of head delay, time to first token and trickle pause), makes the mock answer
/// `400` with a message naming the header; no fault applies to that answer.
public struct MockFaults: Sendable, Equatable {
    /// Bytes per piece when trickling.
    public static let tricklePieceSize = 5
    /// The most tokens `x-mock-tokens` may ask for: any client can send the header, and a stream of
    /// this many tokens already takes a while to read.
    public static let maxTokens = 100_000
    /// The longest `x-mock-head-delay`, `x-mock-ttft` or `x-mock-trickle` a request may ask for.
    public static let maxDelay: Duration = .seconds(60)

    /// `x-mock-status`: the error status to answer with.
    public var status: Int?
    /// `x-mock-retry-after`: the `Retry-After` value in seconds.
    public var retryAfterSeconds: Int?
    /// `x-mock-head-delay`: the pause before the response head.
    public var headDelay: Duration = .zero
    /// `x-mock-stall-after`, `x-mock-reset-after`, `x-mock-close-after`, `x-mock-error-event` or
    /// `x-mock-end-after`.
    public var interruption: MockInterruption?
    /// `x-mock-framing`: how a streamed body is delimited; nil for the default.
    public var framing: MockFraming?
    /// `x-mock-malformed-after`: after how many content events the malformed event goes out.
    public var malformedAfter: Int?
    /// `x-mock-trickle`: the pause between pieces of an event.
    public var trickle: Duration?
    /// `x-mock-ttft`, `x-mock-tps`, `x-mock-tokens`: this request's overrides of `MockSettings`.
    public var timeToFirstToken: Duration?
    /// `x-mock-tps`: tokens per second for this request.
    public var tokensPerSecond: Double?
    /// `x-mock-tokens`: the number of tokens for this request.
    public var tokens: Int?

    /// No fault and no override.
    public init() {}

    /// Reads the `x-mock-*` headers of a request. Other headers are ignored; when a header
    /// appears several times, its first value is used.
    /// Throws for a value that cannot be read or for two interruptions at once.
    public init(headers: HTTPHeaders) throws(MockFaultError) {
        func value(_ header: MockFaultHeader) -> Substring? {
            headers[header.name].map { Substring($0) }
        }
        func read<Value>(
            _ header: MockFaultHeader, _ parse: (Substring) -> Result<Value, MockValueError>
        ) throws(MockFaultError) -> Value? {
            guard let text = value(header) else { return nil }
            switch parse(text) {
            case .success(let parsed): return parsed
            case .failure(let error): throw MockFaultError(header: header, message: error.message)
            }
        }

        if let status = try read(.status, MockValueParser.count) {
            guard (400...599).contains(status) else {
                throw MockFaultError(header: .status, message: "expected an error status from 400 to 599, got \(status)")
            }
            self.status = status
        }
        retryAfterSeconds = try read(.retryAfter, MockValueParser.count)
        framing = try read(.framing, MockValueParser.framing)
        headDelay = try read(.headDelay, MockValueParser.duration) ?? .zero
        malformedAfter = try read(.malformedAfter, MockValueParser.count)
        trickle = try read(.trickle, MockValueParser.duration)
        if trickle == .zero { trickle = nil }
        timeToFirstToken = try read(.timeToFirstToken, MockValueParser.duration)
        tokensPerSecond = try read(.tokensPerSecond, MockValueParser.rate)
        tokens = try read(.tokens, MockValueParser.count)
        if let tokens, tokens > Self.maxTokens {
            throw MockFaultError(header: .tokens, message: "at most \(Self.maxTokens) tokens per request, asked for \(tokens)")
        }
        for (header, delay) in [(MockFaultHeader.headDelay, headDelay), (.timeToFirstToken, timeToFirstToken), (.trickle, trickle)] {
            if let delay, delay > Self.maxDelay {
                throw MockFaultError(header: header, message: "at most \(Self.maxDelay) per request, asked for \(delay)")
            }
        }

        let interruptions: [(MockFaultHeader, MockInterruption.Kind)] = [
            (.stallAfter, .stall), (.resetAfter, .reset), (.closeAfter, .close), (.errorEvent, .errorEvent), (.endAfter, .end),
        ]
        var chosen: MockFaultHeader?
        for (header, kind) in interruptions {
            guard let count = try read(header, MockValueParser.count) else { continue }
            if let chosen {
                throw MockFaultError(header: header, message: "cannot be combined with \(chosen.name)")
            }
            chosen = header
            interruption = MockInterruption(kind, afterContentEvents: count)
        }
    }

    /// `settings` with this request's `x-mock-ttft`, `x-mock-tps` and `x-mock-tokens` applied.
    public func applied(to settings: MockSettings) -> MockSettings {
        var result = settings
        if let timeToFirstToken { result.timeToFirstToken = timeToFirstToken }
        if let tokensPerSecond { result.tokensPerSecond = tokensPerSecond }
        if let tokens { result.tokens = tokens }
        return result
    }
}
