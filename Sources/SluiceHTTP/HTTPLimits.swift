/// Size limits the parsers enforce while reading a message. Each limit names the status the violation maps to.
///
/// Limits are checked as bytes arrive, so an oversized head or body is refused before it is buffered or forwarded.
public struct HTTPLimits: Sendable {
    /// Longest request line (or status line), excluding its CRLF. Exceeded on a request: 414.
    public var maxRequestLineBytes = 8192
    /// Longest head: start line, field lines and the empty line, CRLFs included. Exceeded: 431.
    public var maxHeaderBytes = 32 * 1024
    /// Most field lines in one head. Exceeded: 431.
    public var maxHeaderCount = 100
    /// Largest body. A Content-Length above it fails at head time, a chunked body as soon as its running total
    /// would pass it. Exceeded: 413.
    public var maxBodyBytes = 10 * 1024 * 1024
    /// Longest chunk-size line including extensions, excluding its CRLF. Exceeded: 400.
    public var maxChunkLineBytes = 4096
    /// Largest trailer section after the last chunk, CRLFs included. Exceeded: 431.
    public var maxTrailerBytes = 8192

    public init() {}

    /// The limits for parsing upstream responses: the same, except that bodies are unbounded (LLM streams are long).
    public static let responseDefaults: HTTPLimits = {
        var limits = HTTPLimits()
        limits.maxBodyBytes = Int.max
        return limits
    }()
}
