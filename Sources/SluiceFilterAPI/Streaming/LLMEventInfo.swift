/// What one SSE event of an LLM stream means to a proxy; produced by `LLMEventClassifier`.
public struct LLMEventInfo: Sendable, Equatable {
    /// What kind of event it is, by the dialect's event shapes.
    public enum Kind: Sendable, Equatable {
        /// Carries generated content: OpenAI `choices[].delta.content` non-empty,
        /// `delta.tool_calls` / `delta.function_call` non-empty, `delta.reasoning_content` /
        /// `delta.reasoning` / `delta.refusal` non-empty, completions `choices[].text`
        /// non-empty, a Responses API `response.*.delta` with a non-empty `delta`; Anthropic
        /// `content_block_delta` with a non-empty `text_delta`, `input_json_delta`,
        /// `thinking_delta` (or a delta type this code does not know), but not `signature_delta`.
        case content
        /// Structure without content: a role-only delta, empty content, the finish chunk with an
        /// empty delta (its reason is in `finishReason`), a chunk with empty `choices` and no
        /// usage (Azure's prompt-filter chunk), Responses API `response.created` /
        /// `response.in_progress` / `response.queued` / `*.added`; Anthropic `message_start`,
        /// `content_block_start`, `content_block_stop`, an empty or signature delta.
        case preamble
        /// Anthropic `ping`.
        case ping
        /// A chunk whose payload is usage and nothing generated: the OpenAI `include_usage` final
        /// chunk with empty `choices` (or a finish chunk that also carries usage); Anthropic
        /// `message_delta`.
        case usage
        /// The stream ended properly: OpenAI `data: [DONE]`, Responses API `response.completed` /
        /// `response.incomplete` (which also carry usage), Anthropic `message_stop`.
        case done
        /// The upstream reported an error in the stream: OpenAI `{"error": ...}` (non-null),
        /// vLLM's `{"object": "error", ...}`, Responses API `error` / `response.failed`;
        /// Anthropic `error`.
        case error
        /// Anything else, including data that is not JSON or not well-formed JSON.
        case other
    }

    /// What kind of event it is.
    public var kind: Kind
    /// Set when the event carries usage: OpenAI's `usage` object when non-null; Anthropic
    /// `message_start.message.usage` (prompt side only: its `output_tokens` is a placeholder)
    /// and `message_delta.usage`.
    public var usage: TokenUsage?
    /// OpenAI: the first non-null `choices[].finish_reason` (with one choice per chunk, as
    /// servers send them, that is `choices[0]`); Responses API: `incomplete_details.reason` or
    /// else `status`; Anthropic: `message_delta.delta.stop_reason`.
    public var finishReason: String? {
        get { texts?.finishReason }
        set { setTexts(finishReason: newValue, errorMessage: errorMessage, errorType: errorType) }
    }
    /// For `.error`: the upstream's `message`, or its error type when it gave no message.
    public var errorMessage: String? {
        get { texts?.errorMessage }
        set { setTexts(finishReason: finishReason, errorMessage: newValue, errorType: errorType) }
    }
    /// For `.error`: the upstream's error type, when it named one: OpenAI's `error.type` (else
    /// `error.code`), vLLM's top-level `type`, the Responses API's `code` (`error` events) or
    /// `response.error.code` (`response.failed`); Anthropic's `error.type` (`overloaded_error`, ...).
    public var errorType: String? {
        get { texts?.errorType }
        set { setTexts(finishReason: finishReason, errorMessage: errorMessage, errorType: newValue) }
    }

    /// The strings a few events carry, in one box that is nil for the rest: the engine copies an
    /// event's info a few times on its way, and a copy then costs one reference, not three strings.
    private var texts: Texts?

    private final class Texts: Sendable {
        let finishReason: String?
        let errorMessage: String?
        let errorType: String?

        init(finishReason: String?, errorMessage: String?, errorType: String?) {
            self.finishReason = finishReason
            self.errorMessage = errorMessage
            self.errorType = errorType
        }
    }

    private mutating func setTexts(finishReason: String?, errorMessage: String?, errorType: String?) {
        texts = finishReason == nil && errorMessage == nil && errorType == nil
            ? nil : Texts(finishReason: finishReason, errorMessage: errorMessage, errorType: errorType)
    }

    /// True for the events that end a first-token wait: the ones carrying content.
    public var isFirstTokenCandidate: Bool { kind == .content }

    /// A classification built by hand (tests; filters that make their own events).
    public init(kind: Kind, usage: TokenUsage? = nil, finishReason: String? = nil, errorMessage: String? = nil,
                errorType: String? = nil) {
        self.kind = kind
        self.usage = usage
        setTexts(finishReason: finishReason, errorMessage: errorMessage, errorType: errorType)
    }

    public static func == (lhs: LLMEventInfo, rhs: LLMEventInfo) -> Bool {
        lhs.kind == rhs.kind && lhs.usage == rhs.usage && lhs.finishReason == rhs.finishReason
            && lhs.errorMessage == rhs.errorMessage && lhs.errorType == rhs.errorType
    }
}

extension LLMEventInfo: CustomStringConvertible {
    /// Every field, as the memberwise form would show them (the strings are stored boxed).
    public var description: String {
        "LLMEventInfo(kind: .\(kind), usage: \(usage.map { "\($0)" } ?? "nil"), finishReason: \(finishReason.debugDescription), "
            + "errorMessage: \(errorMessage.debugDescription), errorType: \(errorType.debugDescription))"
    }
}
