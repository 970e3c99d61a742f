/// A fault that ends a response early, after a given number of content events.
///
/// A content event is one token's event (an OpenAI content delta, an Anthropic
/// `content_block_delta`); the preamble (role chunk, `message_start`, `content_block_start`,
/// `ping`) does not count. The interruption happens when content event `afterContentEvents + 1`
/// would have been due; when the completion has fewer content events, it happens where the
/// finishing events would have been sent, so an interruption that was asked for always happens.
public struct MockInterruption: Sendable, Equatable {
    /// What the interruption does.
    public enum Kind: Sendable, Equatable {
        /// Send nothing more and keep the connection open (`x-mock-stall-after`).
        case stall
        /// Abort the connection with RST (`x-mock-reset-after`).
        case reset
        /// Close the connection with FIN without finishing the message (`x-mock-close-after`).
        case close
        /// Send an SSE error event in the request's dialect, then end the message properly
        /// (`x-mock-error-event`). Streaming responses only.
        case errorEvent
        /// End the message properly (the last chunk; for a close-delimited body, the close)
        /// without the finishing events (`[DONE]`, `message_stop`): a stream cut off cleanly
        /// (`x-mock-end-after`). Streaming responses only.
        case end
    }

    /// What happens.
    public var kind: Kind
    /// How many content events are sent before the interruption; 0 means before the first.
    public var afterContentEvents: Int

    /// An interruption of `kind` after `afterContentEvents` content events.
    public init(_ kind: Kind, afterContentEvents: Int) {
        self.kind = kind
        self.afterContentEvents = afterContentEvents
    }
}
