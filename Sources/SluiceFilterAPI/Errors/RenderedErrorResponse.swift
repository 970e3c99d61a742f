/// A complete HTTP error response, ready to write: what `ProxyError.renderedResponse` makes.
public struct RenderedErrorResponse: Sendable {
    /// The HTTP status.
    public var status: Int
    /// Lowercase names, in order: `content-type: application/json`, `content-length`,
    /// `retry-after` when the error has one, then the error's own extra headers.
    public var headers: [(String, String)]
    /// The JSON body.
    public var body: [UInt8]

    /// A response from its parts, as they will be written.
    public init(status: Int, headers: [(String, String)], body: [UInt8]) {
        self.status = status
        self.headers = headers
        self.body = body
    }
}
