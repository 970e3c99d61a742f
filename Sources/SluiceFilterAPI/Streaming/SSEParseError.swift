/// Why `SSEParser.feed` gave up on a stream. The parser stays failed: later feeds throw again.
public struct SSEParseError: Error, Sendable, Equatable {
    /// What was wrong with the stream, for logs and error events.
    public var message: String

    /// An error with this message.
    public init(message: String) {
        self.message = message
    }
}
