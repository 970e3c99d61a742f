import SluiceFilterAPI

/// An SSE item of a response body with the time its last byte was read from the socket.
public struct TimedSSEItem: Sendable {
    /// The event or comment.
    public var item: SSEItem
    /// When the read that completed this item returned (not when the test looked at it), so
    /// gaps between items measure the stream's own pacing.
    public var at: ContinuousClock.Instant

    /// An item read at `at`.
    public init(item: SSEItem, at: ContinuousClock.Instant) {
        self.item = item
        self.at = at
    }

    /// The event, when the item is one (nil for a comment).
    public var event: SSEEvent? {
        if case .event(let event) = item { return event }
        return nil
    }
}
