import SluiceFilterAPI

/// `LLMEventClassifier` and `JSONByteReader` as they were before the word-at-a-time rewrite
/// (cdd58ed), kept verbatim but renamed: the `classify` fuzz target holds the classifier to the
/// answers this copy gives, so a faster reader cannot change what any event means, nor which
/// malformed input it refuses. Not for use outside the fuzz checks.
enum OracleClassifier {
    /// The answer `LLMEventClassifier` gave for an event's `data` and `event:` name.
    static func classify(data: UnsafeBufferPointer<UInt8>, name: UnsafeBufferPointer<UInt8>?, dialect: StreamDialect) -> LLMEventInfo {
        switch dialect {
        case .openai: return classifyOpenAI(data)
        case .anthropic: return classifyAnthropic(data, name: name)
        }
    }

    /// True for `[DONE]`, the OpenAI end-of-stream sentinel, allowing surrounding whitespace.
    static func isDoneSentinel(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        var start = 0
        var end = bytes.count
        while start < end, isSpace(bytes[start]) { start += 1 }
        while end > start, isSpace(bytes[end - 1]) { end -= 1 }
        guard end - start == 6 else { return false }
        let done: StaticString = "[DONE]"
        let p = done.utf8Start
        for k in 0..<6 where bytes[start + k] != p[k] { return false }
        return true
    }

    private static func isSpace(_ b: UInt8) -> Bool {
        b == 0x20 || b == 0x09 || b == 0x0A || b == 0x0D
    }
}

extension OracleClassifier {
    /// OpenAI chat completions / completions chunks (and the servers that imitate them), plus
    /// OpenAI Responses API events, which also arrive on OpenAI-dialect paths.
    static func classifyOpenAI(_ bytes: UnsafeBufferPointer<UInt8>) -> LLMEventInfo {
        if isDoneSentinel(bytes) { return LLMEventInfo(kind: .done) }
        var reader = OracleJSONReader(bytes)
        guard reader.peekKind() == .object else { return LLMEventInfo(kind: .other) }
        var chunk = OracleOpenAIChunk()
        reader.readObject { key, r in chunk.read(key, &r) }
        guard !reader.failed, reader.isAtEnd() else { return LLMEventInfo(kind: .other) }
        return chunk.info()
    }
}

/// The fields of one OpenAI-dialect event that matter, gathered in one pass over the JSON. Strings
/// are kept as views of the event's bytes and decoded by `info()` for the answer: the struct holds
/// nothing to release, and an event pays for a `String` only when its answer carries one. (A string
/// the reader scanned always decodes: it checked every escape.)
private struct OracleOpenAIChunk {
    var hasChoicesArray = false
    var hasContent = false
    var finishReason: OracleJSONReader.RawString?
    var usage: TokenUsage?
    var hasError = false
    var errorMessage: OracleJSONReader.RawString?
    var errorType: OracleJSONReader.RawString?
    var objectIsError = false
    var topMessage: OracleJSONReader.RawString?
    /// The top-level `type` and `code`, kept as views and decoded only for an error event.
    var topType: OracleJSONReader.RawString?
    var topCode: OracleJSONReader.RawString?
    var responsesEvent: ResponsesEvent?
    var deltaHasContent = false
    var responseStatus: OracleJSONReader.RawString?
    var incompleteReason: OracleJSONReader.RawString?

    /// Responses API event types, grouped by what they mean here.
    enum ResponsesEvent {
        case error, failed, finished, delta, started, other
    }

    mutating func read(_ key: OracleJSONReader.RawString, _ r: inout OracleJSONReader) {
        if key == "choices" {
            guard r.peekKind() == .array else { return }
            hasChoicesArray = true
            r.readArray { r in readChoice(&r) }
        } else if key == "usage" {
            usage = Self.readUsage(&r)
        } else if key == "error" {
            let error = Self.readError(&r)
            hasError = hasError || error.present
            if error.present { (errorMessage, errorType) = (error.message, error.type) }
        } else if key == "object" {
            if let s = r.readString(), s == "error" { objectIsError = true }
        } else if key == "message" {
            topMessage = r.readString()
        } else if key == "type" {
            if let s = r.readString() {
                responsesEvent = Self.responsesEvent(s)
                topType = s
            }
        } else if key == "delta" {
            deltaHasContent = r.readHasContent()
        } else if key == "response" {
            guard r.peekKind() == .object else { return }
            r.readObject { key, r in readResponse(key, &r) }
        } else if responsesEvent == .error, key == "code" {
            // Only once `type` said this is an error event (it comes first in those): the other
            // events' unmatched keys pay one enum test, not a string comparison.
            topCode = r.readString()
        }
    }

    private mutating func readChoice(_ r: inout OracleJSONReader) {
        guard r.peekKind() == .object else { return }
        r.readObject { key, r in
            if key == "delta" {
                guard r.peekKind() == .object else { return }
                r.readObject { key, r in
                    if key == "content" || key == "tool_calls" || key == "reasoning_content"
                        || key == "reasoning" || key == "refusal" || key == "function_call" {
                        if r.readHasContent() { hasContent = true }
                    }
                }
            } else if key == "text" {
                if r.readHasContent() { hasContent = true }
            } else if key == "finish_reason" {
                if finishReason == nil, let s = r.readString() { finishReason = s }
            }
        }
    }

    /// The `response` object of a Responses API event.
    private mutating func readResponse(_ key: OracleJSONReader.RawString, _ r: inout OracleJSONReader) {
        if key == "usage" {
            usage = Self.readUsage(&r)
        } else if key == "status" {
            responseStatus = r.readString()
        } else if key == "error" {
            let error = Self.readError(&r)
            if error.present { (errorMessage, errorType) = (error.message, error.type) }
        } else if key == "incomplete_details" {
            guard r.peekKind() == .object else { return }
            r.readObject { key, r in
                if key == "reason" { incompleteReason = r.readString() }
            }
        }
    }

    func info() -> LLMEventInfo {
        if hasError || objectIsError {
            // vLLM's `{"object": "error", "type": "BadRequestError", ...}` names its type at the top.
            return LLMEventInfo(kind: .error, usage: usage, errorMessage: (errorMessage ?? topMessage)?.decoded(),
                                errorType: (errorType ?? (objectIsError ? topType : nil))?.decoded())
        }
        if let responsesEvent {
            switch responsesEvent {
            case .error:
                return LLMEventInfo(kind: .error, errorMessage: (topMessage ?? errorMessage)?.decoded(), errorType: topCode?.decoded())
            case .failed:
                return LLMEventInfo(kind: .error, usage: usage, errorMessage: (errorMessage ?? topMessage)?.decoded(),
                                    errorType: errorType?.decoded())
            case .finished:
                return LLMEventInfo(kind: .done, usage: usage, finishReason: (incompleteReason ?? responseStatus)?.decoded())
            case .delta:
                return LLMEventInfo(kind: deltaHasContent ? .content : .preamble)
            case .started:
                return LLMEventInfo(kind: .preamble, usage: usage)
            case .other:
                return LLMEventInfo(kind: .other, usage: usage)
            }
        }
        let kind: LLMEventInfo.Kind
        if hasContent {
            kind = .content
        } else if usage != nil {
            kind = .usage
        } else if hasChoicesArray {
            kind = .preamble
        } else {
            kind = .other
        }
        return LLMEventInfo(kind: kind, usage: usage, finishReason: finishReason?.decoded())
    }

    /// Only `"error"` and `response.*` are Responses API types; a `type` field elsewhere (vLLM
    /// puts its error class there) is not a Responses event.
    private static func responsesEvent(_ type: OracleJSONReader.RawString) -> ResponsesEvent? {
        if type == "error" { return .error }
        guard type.hasPrefix("response.") else { return nil }
        if type == "response.failed" { return .failed }
        if type == "response.completed" || type == "response.incomplete" { return .finished }
        if type.hasSuffix(".delta") { return .delta }
        if type == "response.created" || type == "response.in_progress" || type == "response.queued"
            || type.hasSuffix(".added") {
            return .started
        }
        return .other
    }

    /// `usage` of a chunk (`prompt_tokens`/`completion_tokens`) or of a Responses API response
    /// (`input_tokens`/`output_tokens`). nil for `null` or a non-object.
    private static func readUsage(_ r: inout OracleJSONReader) -> TokenUsage? {
        guard r.peekKind() == .object else { return nil }
        var usage = TokenUsage()
        r.readObject { key, r in
            if key == "prompt_tokens" || key == "input_tokens" {
                usage.promptTokens = r.readInt()
            } else if key == "completion_tokens" || key == "output_tokens" {
                usage.completionTokens = r.readInt()
            }
        }
        return usage
    }

    /// An `error` member: `null` is no error; an object gives its `message` (else its type) and
    /// its `type` (else its `code`, as the Responses API names it); a bare string is the message.
    private static func readError(_ r: inout OracleJSONReader)
        -> (present: Bool, message: OracleJSONReader.RawString?, type: OracleJSONReader.RawString?) {
        switch r.peekKind() {
        case .null, nil:
            return (false, nil, nil)
        case .string:
            return (true, r.readString(), nil)
        case .object:
            var message: OracleJSONReader.RawString?
            var type: OracleJSONReader.RawString?
            var code: OracleJSONReader.RawString?
            r.readObject { key, r in
                if key == "message" {
                    message = r.readString()
                } else if key == "type" {
                    type = r.readString()
                } else if key == "code" {
                    code = r.readString()
                }
            }
            return (true, message ?? type ?? code, type ?? code)
        default:
            return (true, nil, nil)
        }
    }
}

extension OracleClassifier {
    /// Anthropic Messages API events. The SSE `event:` name decides the type when it is one
    /// this code knows; otherwise the data's `type` does (some relays drop `event:` lines).
    /// `ping` needs no data at all; `message_stop`, `content_block_stop` and `error` keep their
    /// meaning even when their data is not well-formed JSON; every other event needs a
    /// well-formed JSON object or it is `.other`.
    static func classifyAnthropic(_ bytes: UnsafeBufferPointer<UInt8>, name: UnsafeBufferPointer<UInt8>?) -> LLMEventInfo {
        let named = name.flatMap { OracleAnthropicEventType(OracleJSONReader.RawString(raw: $0, hasEscapes: false)) }
        if named == .ping { return LLMEventInfo(kind: .ping) }
        if isDoneSentinel(bytes) { return LLMEventInfo(kind: .done) }
        var reader = OracleJSONReader(bytes)
        var fields = OracleAnthropicEventFields()
        if reader.peekKind() == .object {
            reader.readObject { key, r in fields.read(key, &r) }
        } else {
            reader.skipValue()
        }
        let wellFormed = !reader.failed && reader.isAtEnd() && fields.isObject
        guard wellFormed else {
            switch named {
            case .messageStop: return LLMEventInfo(kind: .done)
            case .contentBlockStop: return LLMEventInfo(kind: .preamble)
            case .error: return LLMEventInfo(kind: .error)
            default: return LLMEventInfo(kind: .other)
            }
        }
        return fields.info(type: named ?? fields.type)
    }
}

/// The Anthropic event types that mean something to a proxy.
private enum OracleAnthropicEventType {
    case messageStart, contentBlockStart, contentBlockDelta, contentBlockStop, messageDelta, messageStop, ping, error

    init?(_ type: OracleJSONReader.RawString) {
        if type == "content_block_delta" { self = .contentBlockDelta }
        else if type == "message_start" { self = .messageStart }
        else if type == "content_block_start" { self = .contentBlockStart }
        else if type == "content_block_stop" { self = .contentBlockStop }
        else if type == "message_delta" { self = .messageDelta }
        else if type == "message_stop" { self = .messageStop }
        else if type == "ping" { self = .ping }
        else if type == "error" { self = .error }
        else { return nil }
    }
}

/// The fields of one Anthropic event that matter, gathered in one pass over the JSON.
private struct OracleAnthropicEventFields {
    var isObject = false
    var type: OracleAnthropicEventType?
    var usage: TokenUsage?
    var deltaKind: DeltaKind = .unknown
    var deltaHasPayload = false
    var stopReason: String?
    var errorMessage: String?
    var errorType: String?

    enum DeltaKind {
        /// text_delta, input_json_delta, thinking_delta: content when their payload is non-empty.
        case payload
        /// signature_delta: a verification blob for thinking, not generated content.
        case signature
        /// A delta type this code does not know: counted as content, since new delta types have
        /// so far always carried content.
        case unknown
    }

    mutating func read(_ key: OracleJSONReader.RawString, _ r: inout OracleJSONReader) {
        isObject = true
        if key == "type" {
            if let s = r.readString() { type = OracleAnthropicEventType(s) }
        } else if key == "delta" {
            guard r.peekKind() == .object else { return }
            r.readObject { key, r in readDelta(key, &r) }
        } else if key == "usage" {
            usage = Self.readUsage(&r, includeOutput: true)
        } else if key == "message" {
            guard r.peekKind() == .object else { return }
            r.readObject { key, r in
                // message_start's output_tokens is a placeholder (often 1) that message_delta
                // replaces; taking it would make a cut stream look like it produced one token.
                if key == "usage" { usage = Self.readUsage(&r, includeOutput: false) }
            }
        } else if key == "error" {
            guard r.peekKind() == .object else {
                errorMessage = r.readString()?.decoded()
                return
            }
            var message: String?
            var type: String?
            r.readObject { key, r in
                if key == "message" {
                    message = r.readString()?.decoded()
                } else if key == "type" {
                    type = r.readString()?.decoded()
                }
            }
            errorMessage = message ?? type
            errorType = type
        }
    }

    private mutating func readDelta(_ key: OracleJSONReader.RawString, _ r: inout OracleJSONReader) {
        if key == "type" {
            guard let s = r.readString() else { return }
            if s == "text_delta" || s == "input_json_delta" || s == "thinking_delta" {
                deltaKind = .payload
            } else if s == "signature_delta" {
                deltaKind = .signature
            }
        } else if key == "text" || key == "partial_json" || key == "thinking" {
            if r.readHasContent() { deltaHasPayload = true }
        } else if key == "stop_reason" {
            stopReason = r.readString()?.decoded()
        }
    }

    func info(type: OracleAnthropicEventType?) -> LLMEventInfo {
        switch type {
        case .messageStart:
            return LLMEventInfo(kind: .preamble, usage: usage)
        case .contentBlockStart, .contentBlockStop:
            return LLMEventInfo(kind: .preamble)
        case .contentBlockDelta:
            let content: Bool
            switch deltaKind {
            case .payload: content = deltaHasPayload
            case .signature: content = false
            case .unknown: content = true
            }
            return LLMEventInfo(kind: content ? .content : .preamble)
        case .messageDelta:
            return LLMEventInfo(kind: .usage, usage: usage, finishReason: stopReason)
        case .messageStop:
            return LLMEventInfo(kind: .done)
        case .ping:
            return LLMEventInfo(kind: .ping)
        case .error:
            return LLMEventInfo(kind: .error, errorMessage: errorMessage, errorType: errorType)
        case nil:
            // A whole `message` (a non-streamed response) or a type this code does not know:
            // nothing to count, but its usage, if any, is real.
            return LLMEventInfo(kind: .other, usage: usage)
        }
    }

    /// Anthropic usage: prompt tokens are `input_tokens` plus both cache counts (each absent
    /// one counts 0; nil only when none is present), completion tokens `output_tokens`. nil
    /// when neither side is present.
    private static func readUsage(_ r: inout OracleJSONReader, includeOutput: Bool) -> TokenUsage? {
        guard r.peekKind() == .object else { return nil }
        var prompt: Int?
        var output: Int?
        r.readObject { key, r in
            if key == "input_tokens" || key == "cache_creation_input_tokens" || key == "cache_read_input_tokens" {
                if let n = r.readInt() {
                    let (sum, overflow) = (prompt ?? 0).addingReportingOverflow(n)
                    prompt = overflow ? Int.max : sum
                }
            } else if includeOutput, key == "output_tokens" {
                output = r.readInt()
            }
        }
        if prompt == nil && output == nil { return nil }
        return TokenUsage(promptTokens: prompt, completionTokens: output)
    }
}
