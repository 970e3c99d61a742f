/// How the body of a response read by `TestClient` ended.
public enum ResponseEnding: Sendable, Equatable {
    /// The message ended as its framing says: the last chunk, the Content-Length reached, or
    /// the close that delimits a body without either.
    case complete
    /// The peer closed (or reset) the connection before the message's end, e.g. a chunked body
    /// without its last chunk.
    case truncated
    /// The read's deadline passed before the message ended; the connection is still open.
    case timedOut
}
