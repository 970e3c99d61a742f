extension LLMEventClassifier {
    /// OpenAI chat completions / completions chunks (and the servers that imitate them), plus
    /// OpenAI Responses API events, which also arrive on OpenAI-dialect paths.
    static func classifyOpenAI(_ bytes: UnsafeBufferPointer<UInt8>) -> LLMEventInfo {
        if isDoneSentinel(bytes) { return LLMEventInfo(kind: .done) }
        var reader = JSONByteReader(bytes)
        guard reader.peekKind() == .object else { return LLMEventInfo(kind: .other) }
        var chunk = OpenAIChunk()
        chunk.read(&reader)
        guard !reader.failed, reader.isAtEnd() else { return LLMEventInfo(kind: .other) }
        return chunk.info()
    }

    /// `classifyOpenAI(_:)` for one event of a stream whose previous events went through `shape`:
    /// the same answer, without reading the JSON when the event has the shape of the last one
    /// read in full.
    static func classifyOpenAI(_ bytes: UnsafeBufferPointer<UInt8>, shape: inout LLMEventShape) -> LLMEventInfo {
        if let kind = shape.kind(of: bytes) { return LLMEventInfo(kind: kind) }
        return classifyOpenAIKeepingShape(bytes, &shape)
    }

    @inline(never)
    private static func classifyOpenAIKeepingShape(_ bytes: UnsafeBufferPointer<UInt8>, _ shape: inout LLMEventShape) -> LLMEventInfo {
        if isDoneSentinel(bytes) { return LLMEventInfo(kind: .done) }
        var reader = JSONByteReader(bytes)
        guard reader.peekKind() == .object else { return LLMEventInfo(kind: .other) }
        var chunk = OpenAIChunk()
        shape.recordingHoles(of: &reader) { chunk.read(&$0) }
        guard !reader.failed, reader.isAtEnd() else {
            shape.forget()
            return LLMEventInfo(kind: .other)
        }
        if let kindWithoutContent = chunk.kindWithoutContent {
            shape.keep(bytes, kindWithoutContent: kindWithoutContent)
        } else {
            shape.forget()
        }
        return chunk.info()
    }
}

extension LLMEventClassifier {
    /// The usage of a whole non-streamed body, reading only what the usage needs: the top level's
    /// `usage` and the Responses API's `response.usage`, the last one in the text winning, as in
    /// `classifyOpenAI`. Every other member is skipped the way the classifier skips the members it
    /// does not read: its strings and brackets are matched, the rest of its inside is not checked.
    /// So where `classifyOpenAI(bytes).usage` is non-nil this answers the same, and a body malformed
    /// only inside `choices` (which the classifier reads, and then refuses) still gives the usage the
    /// upstream reported. The `classify` fuzz target holds both.
    ///
    /// Why: a chat completion's body is mostly `choices`, which the full walk reads member by
    /// member and then turns into an event's answer (its texts included); a short request spent
    /// about 4,000 instructions there.
    static func usageOfOpenAIBody(_ bytes: UnsafeBufferPointer<UInt8>) -> TokenUsage? {
        if isDoneSentinel(bytes) { return nil }
        var reader = JSONByteReader(bytes)
        guard reader.peekKind() == .object else { return nil }
        var usage: TokenUsage?
        var members = reader.beginObject()
        while let key = reader.nextMember(&members) {
            if key == "usage" {
                usage = OpenAIChunk.readUsage(&reader)
            } else if key == "response", reader.peekKind() == .object {
                var inner = reader.beginObject()
                while let key = reader.nextMember(&inner) {
                    if key == "usage" { usage = OpenAIChunk.readUsage(&reader) }
                }
            }
        }
        guard !reader.failed, reader.isAtEnd() else { return nil }
        return usage
    }
}

/// The fields of one OpenAI-dialect event that matter, gathered in one pass over the JSON. Strings
/// are kept as views of the event's bytes and decoded by `info()` for the answer: the struct holds
/// nothing to release, and an event pays for a `String` only when its answer carries one. (A string
/// the reader scanned always decodes: it checked every escape.) The walk of a chat chunk, top level,
/// `choices` and `delta`, is inlined into one function with no closure, so the reader and these
/// fields stay in registers; the rarer members (`usage`, `error`, `response`) are read out of line.
private struct OpenAIChunk {
    var hasChoicesArray = false
    var hasContent = false
    /// Content that came from something other than a string (a non-empty `tool_calls` array):
    /// what `LLMEventShape` cannot read again from a match's strings.
    var hasContentOutsideStrings = false
    var finishReason: JSONByteReader.RawString?
    var usage: TokenUsage?
    var hasError = false
    var errorMessage: JSONByteReader.RawString?
    var errorType: JSONByteReader.RawString?
    var objectIsError = false
    var topMessage: JSONByteReader.RawString?
    /// The top-level `type` and `code`, kept as views and decoded only for an error event.
    var topType: JSONByteReader.RawString?
    var topCode: JSONByteReader.RawString?
    var responsesEvent: ResponsesEvent?
    var deltaHasContent = false
    var responseStatus: JSONByteReader.RawString?
    var incompleteReason: JSONByteReader.RawString?

    /// Responses API event types, grouped by what they mean here.
    enum ResponsesEvent {
        case error, failed, finished, delta, started, other
    }

    /// Walks the event's top-level object.
    @inline(never)
    mutating func read(_ reader: inout JSONByteReader) {
        // A local copy, which only the rare members' readers see through a copy of their own:
        // the common path then keeps it in registers.
        var r = reader
        defer { reader = r }
        var members = r.beginObject()
        while let key = r.nextMember(&members) {
            read(key, &r)
        }
    }

    @inline(always)
    private mutating func read(_ key: JSONByteReader.RawString, _ r: inout JSONByteReader) {
        if key == "choices" {
            guard r.peekKind() == .array else { return }
            hasChoicesArray = true
            readChoices(&r)
        } else if key == "usage" {
            var copy = r
            usage = Self.readUsage(&copy)
            r = copy
        } else if key == "error" {
            var copy = r
            let error = Self.readError(&copy)
            r = copy
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
            var copy = r
            readResponse(&copy)
            r = copy
        } else if responsesEvent == .error, key == "code" {
            // Only once `type` said this is an error event (it comes first in those): the other
            // events' unmatched keys pay one enum test, not a string comparison.
            topCode = r.readString()
        }
    }

    /// The `choices` array.
    @inline(always)
    private mutating func readChoices(_ r: inout JSONByteReader) {
        var choices = r.beginArray()
        while r.nextElement(&choices) {
            readChoice(&r)
        }
    }

    @inline(always)
    private mutating func readChoice(_ r: inout JSONByteReader) {
        guard r.peekKind() == .object else { return }
        var members = r.beginObject()
        while let key = r.nextMember(&members) {
            if key == "delta" {
                guard r.peekKind() == .object else { continue }
                var delta = r.beginObject()
                while let key = r.nextMember(&delta) {
                    if key == "content" || key == "tool_calls" || key == "reasoning_content"
                        || key == "reasoning" || key == "refusal" || key == "function_call" {
                        readContent(&r)
                    }
                }
            } else if key == "text" {
                readContent(&r)
            } else if key == "finish_reason" {
                if finishReason == nil, let s = r.readString() { finishReason = s }
            }
        }
    }

    /// A value that is content when it is not empty. A string is noted as a `.presence` hole: the
    /// answer depends on it only through being empty.
    @inline(always)
    private mutating func readContent(_ r: inout JSONByteReader) {
        let isString = r.peekKind() == .string
        if r.readHasContentNotingPresence() {
            hasContent = true
            if !isString { hasContentOutsideStrings = true }
        }
    }

    /// The `response` object of a Responses API event.
    @inline(never)
    private mutating func readResponse(_ r: inout JSONByteReader) {
        guard r.peekKind() == .object else { return }
        var members = r.beginObject()
        while let key = r.nextMember(&members) {
            readResponse(key, &r)
        }
    }

    private mutating func readResponse(_ key: JSONByteReader.RawString, _ r: inout JSONByteReader) {
        if key == "usage" {
            usage = Self.readUsage(&r)
        } else if key == "status" {
            responseStatus = r.readString()
        } else if key == "error" {
            let error = Self.readError(&r)
            if error.present { (errorMessage, errorType) = (error.message, error.type) }
        } else if key == "incomplete_details" {
            guard r.peekKind() == .object else { return }
            var members = r.beginObject()
            while let key = r.nextMember(&members) {
                if key == "reason" { incompleteReason = r.readString() }
            }
        }
    }

    /// The answer. Mutating only so that the chunk (some 300 bytes) is passed by reference rather
    /// than copied; it changes nothing.
    @inline(always)
    mutating func info() -> LLMEventInfo {
        // Most events: a chat or completions chunk with no usage, finish reason or error.
        // `fullInfo()` answers the same for them, after building what they do not need.
        if !hasError, !objectIsError, responsesEvent == nil, usage == nil, finishReason == nil {
            return LLMEventInfo(kind: hasContent ? .content : hasChoicesArray ? .preamble : .other)
        }
        return fullInfo()
    }

    /// For an event of the common kind (no usage, finish reason, error or Responses API type), its
    /// kind were its content strings empty; nil for any other event. What `LLMEventShape` keeps.
    var kindWithoutContent: LLMEventInfo.Kind? {
        guard !hasError, !objectIsError, responsesEvent == nil, usage == nil, finishReason == nil else { return nil }
        return hasContentOutsideStrings ? .content : hasChoicesArray ? .preamble : .other
    }

    @inline(never)
    private mutating func fullInfo() -> LLMEventInfo {
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
    private static func responsesEvent(_ type: JSONByteReader.RawString) -> ResponsesEvent? {
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
    @inline(never)
    static func readUsage(_ r: inout JSONByteReader) -> TokenUsage? {
        guard r.peekKind() == .object else { return nil }
        var usage = TokenUsage()
        var members = r.beginObject()
        while let key = r.nextMember(&members) {
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
    @inline(never)
    private static func readError(_ r: inout JSONByteReader)
        -> (present: Bool, message: JSONByteReader.RawString?, type: JSONByteReader.RawString?) {
        switch r.peekKind() {
        case .null, nil:
            return (false, nil, nil)
        case .string:
            return (true, r.readString(), nil)
        case .object:
            var message: JSONByteReader.RawString?
            var type: JSONByteReader.RawString?
            var code: JSONByteReader.RawString?
            var members = r.beginObject()
            while let key = r.nextMember(&members) {
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
