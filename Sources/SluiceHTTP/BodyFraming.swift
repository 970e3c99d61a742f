/// How the body of a message is delimited on the wire, decided from its head (RFC 9112 section 6.3).
public enum BodyFraming: Sendable, Equatable {
    /// No body at all: a request without Content-Length and Transfer-Encoding, a response to HEAD, or 1xx/204/304.
    case none
    /// Exactly this many bytes follow the head (possibly zero).
    case contentLength(Int)
    /// Transfer-Encoding: chunked. The decoded payload is delivered; chunk framing and trailers are not.
    case chunked
    /// Responses only: the body runs until the peer closes (see `HTTPResponseParser.finishAtEOF`).
    case closeDelimited
}
