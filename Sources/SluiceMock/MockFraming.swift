/// How a streamed answer's body is delimited (`x-mock-framing`).
public enum MockFraming: String, Sendable, Equatable, CaseIterable {
    /// `Transfer-Encoding: chunked`, ended by the last chunk: the default for HTTP/1.1 requests.
    case chunked
    /// No length and no chunking: the body ends when the mock closes the connection (as always
    /// for HTTP/1.0 requests), so a clean close and a cut look the same at the HTTP level.
    case close
}
