/// What the peer closing the connection meant for the response being read (`HTTPResponseParser.finishAtEOF`).
public enum EOFOutcome: Sendable, Equatable {
    /// No byte of a response had been seen: a clean close between messages.
    case idle
    /// The response is complete (a close-delimited body ends here, or `.end` had already been emitted).
    case completed
    /// The response was cut off in its head or body; what was forwarded is incomplete.
    case truncated
}
