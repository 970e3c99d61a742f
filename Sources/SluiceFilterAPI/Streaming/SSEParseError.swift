/// Why `SSEParser.feed` gave up on a stream. The parser stays failed: later feeds throw again.
public struct SSEParseError: Error, Sendable, Equatable {
    public var message: String

    public init(message: String) {
        self.message = message
    }
}
