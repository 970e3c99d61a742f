/// The encoded SSE events of one streamed completion, before timing and faults are laid over
/// them by `MockPlanner`. Each element is one whole event, ready to send.
struct MockStreamScript: Sendable, Equatable {
    /// Sent right after the head (OpenAI chat's role chunk; Anthropic's `message_start`,
    /// `content_block_start`, `ping`). May be empty.
    var preamble: [[UInt8]]
    /// One event per token; these are the "content events" faults count.
    var content: [[UInt8]]
    /// Sent right after the last content event, in order (finish chunk, usage, `[DONE]`; or
    /// `content_block_stop`, `message_delta`, `message_stop`).
    var finish: [[UInt8]]
    /// The dialect's in-stream error event (`x-mock-error-event`).
    var errorEvent: [UInt8]
    /// An event whose `data` is not valid JSON (`x-mock-malformed-after`).
    var malformedEvent: [UInt8]
}
