/// Where a parser is within the message it is reading.
@usableFromInline
enum MessagePhase: UInt8, Sendable {
    /// Reading (or waiting for) the head.
    case head
    /// The head has been reported; body bytes are being decoded.
    case body
    /// `.end` has been reported; nothing more is consumed until `reset()`.
    case complete
    /// A parse error was thrown; the parser rethrows it until `reset()`.
    case failed
}
