/// Tells what an SSE event of an LLM stream means: content, structure, usage, the end, an error.
///
/// The engine calls it on every event of every stream, so it reads the event's JSON in place
/// (`JSONByteReader`): it walks only the fields that matter and skips the rest, allocating
/// only for the strings it returns (finish reason, error message).
public enum LLMEventClassifier {
    /// Classifies one event in the given dialect. Pure and thread-safe; any input, however
    /// malformed, answers `.other` rather than failing. See `LLMEventInfo.Kind` for which event
    /// shapes map to which kind.
    public static func classify(_ event: SSEEvent, dialect: StreamDialect) -> LLMEventInfo {
        withUTF8(event.data) { data in
            guard var name = event.event else { return classify(data: data, name: nil, dialect: dialect) }
            return name.withUTF8 { classify(data: data, name: $0, dialect: dialect) }
        }
    }

    /// Classifies one event from its bytes, as `SSEParser.scan` reports it: the same answer as
    /// `classify(_:dialect:)` for the same event, without building it. `name` is the `event:` field
    /// (nil when absent). Pure and thread-safe.
    public static func classify(_ event: SSEEventView, dialect: StreamDialect) -> LLMEventInfo {
        let data = UnsafeBufferPointer(start: event.data.baseAddress?.assumingMemoryBound(to: UInt8.self), count: event.data.count)
        let name = event.name.map { UnsafeBufferPointer(start: $0.baseAddress?.assumingMemoryBound(to: UInt8.self), count: $0.count) }
        return classify(data: data, name: name, dialect: dialect)
    }

    /// Classifies one event from its `data` bytes and `event:` name (nil when absent): what both public
    /// `classify` functions answer. Pure and thread-safe.
    package static func classify(data: UnsafeBufferPointer<UInt8>, name: UnsafeBufferPointer<UInt8>?, dialect: StreamDialect) -> LLMEventInfo {
        switch dialect {
        case .openai: return classifyOpenAI(data)
        case .anthropic: return classifyAnthropic(data, name: name)
        }
    }

    /// Classifies one event of a stream from its bytes: the answer of
    /// `classify(data:name:dialect:)`, cheaper for an event shaped like the one before it (see
    /// `LLMEventShape`). `shape` belongs to the stream and sees every event of it, in order. Loop
    /// thread of the stream's exchange.
    package static func classify(data: UnsafeBufferPointer<UInt8>, name: UnsafeBufferPointer<UInt8>?, dialect: StreamDialect,
                                 shape: inout LLMEventShape) -> LLMEventInfo {
        switch dialect {
        case .openai: return classifyOpenAI(data, shape: &shape)
        case .anthropic: return classifyAnthropic(data, name: name)
        }
    }

    /// The token usage of a whole, non-streamed JSON response body: OpenAI's `usage`
    /// (`prompt_tokens`/`completion_tokens`, or the Responses API's `input_tokens`/`output_tokens`),
    /// Anthropic's `usage` of a `message`. nil when the body has none or is not JSON. Pure and
    /// thread-safe.
    public static func usage(ofResponseBody body: [UInt8], dialect: StreamDialect) -> TokenUsage? {
        body.withUnsafeBufferPointer { usage(ofResponseBody: $0, dialect: dialect) }
    }

    /// `usage(ofResponseBody:dialect:)` of a body read in place.
    package static func usage(ofResponseBody bytes: UnsafeBufferPointer<UInt8>, dialect: StreamDialect) -> TokenUsage? {
        switch dialect {
        case .openai: usageOfOpenAIBody(bytes)
        case .anthropic: classifyAnthropic(bytes, name: nil).usage
        }
    }

    /// Runs `body` over the UTF-8 of `string` without copying it when it is stored contiguously
    /// (always so for strings the parser makes).
    static func withUTF8<R>(_ string: String, _ body: (UnsafeBufferPointer<UInt8>) -> R) -> R {
        if let result = string.utf8.withContiguousStorageIfAvailable(body) { return result }
        var copy = string
        return copy.withUTF8(body)
    }

    /// True for `[DONE]`, the OpenAI end-of-stream sentinel, allowing surrounding whitespace.
    @inline(always)
    static func isDoneSentinel(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        // Nearly every event is a JSON object: one byte tells.
        if bytes.first == 0x7B { return false }
        return isDoneSentinelTrimmed(bytes)
    }

    @inline(never)
    private static func isDoneSentinelTrimmed(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
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
