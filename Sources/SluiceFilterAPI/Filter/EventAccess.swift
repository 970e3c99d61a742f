/// What a filter's `onEvent` does with each SSE event of a response, so the engine builds no more
/// than the chain uses (`Filter.eventAccess`).
public enum EventAccess: Sendable, Equatable {
    /// The filter takes no events: `onEvent` is not called.
    case none
    /// `onEvent` reads only the `LLMEventInfo` (content or not, tokens, finish, errors). The `SSEEvent`
    /// it gets is empty unless another filter of the chain reads events: no `String` is built per
    /// event for it.
    case info
    /// `onEvent` reads the event's fields. Changes are ignored unless some filter `rewrite`s.
    case read
    /// `onEvent` may change or drop events: the chain then forwards whole events only, as the
    /// filters left them.
    case rewrite
}
