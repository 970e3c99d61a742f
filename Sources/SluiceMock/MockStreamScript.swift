/// The encoded SSE events of one streamed completion, before timing and faults are laid over
/// them by `MockPlanner`. Each element is one whole event, ready to send. Content events are made
/// on demand (`contentEvent`), one at a time, so a long completion is never held in memory.
struct MockStreamScript: Sendable {
    /// Sent right after the head (OpenAI chat's role chunk; Anthropic's `message_start`,
    /// `content_block_start`, `ping`). May be empty.
    var preamble: [[UInt8]]
    /// How many content events there are: one per token; these are the "content events" faults count.
    var contentCount: Int
    /// Content event `i` (0 ..< contentCount).
    var contentEvent: @Sendable (Int) -> [UInt8]
    /// Sent right after the last content event, in order (finish chunk, usage, `[DONE]`; or
    /// `content_block_stop`, `message_delta`, `message_stop`).
    var finish: [[UInt8]]
    /// The dialect's in-stream error event (`x-mock-error-event`).
    var errorEvent: [UInt8]
    /// An event whose `data` is not valid JSON (`x-mock-malformed-after`).
    var malformedEvent: [UInt8]
}
