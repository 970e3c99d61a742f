/// Running totals for one stream: feed every item; answers what a proxy reports (tokens out,
/// first token seen, done seen).
///
/// A value owned by the stream's exchange; record events on the thread that owns the stream.
public struct StreamTokenAccount: Sendable {
    /// The dialect events are classified in.
    public let dialect: StreamDialect
    /// Events classified `.content` so far.
    public private(set) var contentEvents = 0
    /// Events recorded so far, of any kind.
    public private(set) var events = 0
    /// Usage merged from every event that carried some; each later count replaces an earlier
    /// one (streams report cumulative figures). For Anthropic that combines the prompt side
    /// from `message_start` with the output from `message_delta`. nil until an event carries
    /// usage.
    public private(set) var usage: TokenUsage?
    /// The latest finish / stop reason reported.
    public private(set) var finishReason: String?
    /// `[DONE]` / `message_stop` / `response.completed` seen: the stream ended properly.
    public private(set) var sawDone = false
    /// The upstream reported an error in the stream.
    public private(set) var sawError = false
    /// The message of the last error event.
    public private(set) var errorMessage: String?
    /// The upstream's type of the last error event, when it named one (`LLMEventInfo.errorType`).
    public private(set) var errorType: String?
    /// Some event had one of the dialect's own shapes (any kind but `.other`): the stream speaks
    /// the dialect, so a proper end is its final event (`sawDone`). A stream of `.other` events
    /// only (not an LLM stream, or a dialect Sluice does not know) has no final event to expect.
    public private(set) var sawDialectEvent = false

    /// An account with nothing recorded, for a stream in `dialect`.
    public init(dialect: StreamDialect) {
        self.dialect = dialect
    }

    /// Records one classified event. Call it for every event of the stream, in order.
    public mutating func record(_ info: LLMEventInfo) {
        events += 1
        switch info.kind {
        case .content:
            contentEvents += 1
        case .done:
            sawDone = true
        case .error:
            sawError = true
            errorMessage = info.errorMessage
            errorType = info.errorType
        case .preamble, .ping, .usage, .other:
            break
        }
        if info.kind != .other { sawDialectEvent = true }
        if let reported = info.usage {
            usage = usage.map { $0.merged(with: reported) } ?? reported
        }
        if let reason = info.finishReason {
            finishReason = reason
        }
    }

    /// Records the usage of a non-streamed response (see `LLMEventClassifier.usage(ofResponseBody:dialect:)`),
    /// so that `usage` and `completionTokens` report it as they would for a stream.
    public mutating func recordResponseUsage(_ reported: TokenUsage) {
        usage = usage.map { $0.merged(with: reported) } ?? reported
    }

    /// Classifies `event` in this account's dialect, records it, and answers the classification.
    @discardableResult
    public mutating func record(_ event: SSEEvent) -> LLMEventInfo {
        let info = LLMEventClassifier.classify(event, dialect: dialect)
        record(info)
        return info
    }

    /// The generated token count to report: the upstream's `completionTokens` when it said,
    /// else the number of content events (most servers send about one token per event, so
    /// this is an estimate that is right in order of magnitude).
    public var completionTokens: Int {
        usage?.completionTokens ?? contentEvents
    }

    /// The stream speaks its dialect (`sawDialectEvent`) but its final event never came, nor an
    /// error event (which ends a stream in both dialects): ended here, it would be cut short.
    /// The dialects and their final events: OpenAI chat completions and completions `data: [DONE]`,
    /// the Responses API `response.completed` / `response.incomplete` / `response.failed`, Anthropic
    /// `message_stop`.
    public var lacksFinalEvent: Bool {
        sawDialectEvent && !sawDone && !sawError
    }

    /// True once any content has been seen (the first token has arrived).
    public var sawFirstToken: Bool {
        contentEvents > 0
    }
}
