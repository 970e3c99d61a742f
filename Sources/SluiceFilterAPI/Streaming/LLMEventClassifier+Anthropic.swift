extension LLMEventClassifier {
    /// Anthropic Messages API events. The SSE `event:` name decides the type when it is one
    /// this code knows; otherwise the data's `type` does (some relays drop `event:` lines).
    /// `ping` needs no data at all; `message_stop`, `content_block_stop` and `error` keep their
    /// meaning even when their data is not well-formed JSON; every other event needs a
    /// well-formed JSON object or it is `.other`.
    static func classifyAnthropic(_ bytes: UnsafeBufferPointer<UInt8>, name: UnsafeBufferPointer<UInt8>?) -> LLMEventInfo {
        let named = name.flatMap { AnthropicEventType(JSONByteReader.RawString(raw: $0, hasEscapes: false)) }
        if named == .ping { return LLMEventInfo(kind: .ping) }
        if isDoneSentinel(bytes) { return LLMEventInfo(kind: .done) }
        var reader = JSONByteReader(bytes)
        var fields = AnthropicEventFields()
        if reader.peekKind() == .object {
            var members = reader.beginObject()
            while let key = reader.nextMember(&members) {
                fields.read(key, &reader)
            }
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
private enum AnthropicEventType {
    case messageStart, contentBlockStart, contentBlockDelta, contentBlockStop, messageDelta, messageStop, ping, error

    init?(_ type: JSONByteReader.RawString) {
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
private struct AnthropicEventFields {
    var isObject = false
    var type: AnthropicEventType?
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

    @inline(always)
    mutating func read(_ key: JSONByteReader.RawString, _ r: inout JSONByteReader) {
        isObject = true
        if key == "type" {
            if let s = r.readString() { type = AnthropicEventType(s) }
        } else if key == "delta" {
            guard r.peekKind() == .object else { return }
            var members = r.beginObject()
            while let key = r.nextMember(&members) {
                readDelta(key, &r)
            }
        } else if key == "usage" {
            usage = Self.readUsage(&r, includeOutput: true)
        } else if key == "message" {
            readMessage(&r)
        } else if key == "error" {
            readError(&r)
        }
    }

    /// `message_start`'s `message`: only its usage matters.
    @inline(never)
    private mutating func readMessage(_ r: inout JSONByteReader) {
        guard r.peekKind() == .object else { return }
        var members = r.beginObject()
        while let key = r.nextMember(&members) {
            // message_start's output_tokens is a placeholder (often 1) that message_delta
            // replaces; taking it would make a cut stream look like it produced one token.
            if key == "usage" { usage = Self.readUsage(&r, includeOutput: false) }
        }
    }

    @inline(never)
    private mutating func readError(_ r: inout JSONByteReader) {
        guard r.peekKind() == .object else {
            errorMessage = r.readString()?.decoded()
            return
        }
        var message: String?
        var type: String?
        var members = r.beginObject()
        while let key = r.nextMember(&members) {
            if key == "message" {
                message = r.readString()?.decoded()
            } else if key == "type" {
                type = r.readString()?.decoded()
            }
        }
        errorMessage = message ?? type
        errorType = type
    }

    @inline(always)
    private mutating func readDelta(_ key: JSONByteReader.RawString, _ r: inout JSONByteReader) {
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

    func info(type: AnthropicEventType?) -> LLMEventInfo {
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
    @inline(never)
    private static func readUsage(_ r: inout JSONByteReader, includeOutput: Bool) -> TokenUsage? {
        guard r.peekKind() == .object else { return nil }
        var prompt: Int?
        var output: Int?
        var members = r.beginObject()
        while let key = r.nextMember(&members) {
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
