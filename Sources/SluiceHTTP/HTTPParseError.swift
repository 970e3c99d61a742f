/// Why a message was refused. After a parser throws one, the connection must be answered with `status` (requests)
/// or treated as a bad gateway (responses), and closed: the byte stream can no longer be framed safely.
public struct HTTPParseError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// 400: malformed or ambiguous syntax, including every request-smuggling shape.
        case badRequest
        /// 414: the request line is longer than `HTTPLimits.maxRequestLineBytes`.
        case uriTooLong
        /// 431: the head or trailer section is too large, or has too many fields.
        case headersTooLarge
        /// 413: the body is larger than `HTTPLimits.maxBodyBytes`.
        case bodyTooLarge
        /// 505: a well-formed HTTP version other than 1.0 and 1.1.
        case versionNotSupported
        /// 501: a feature we deliberately do not implement (transfer codings other than chunked, upgrades).
        case notImplemented
    }

    public var kind: Kind
    /// Short human text naming the violation, e.g. "Content-Length and Transfer-Encoding together".
    public var reason: String

    public init(_ kind: Kind, _ reason: String) {
        self.kind = kind
        self.reason = reason
    }

    /// The response status that reports this error to a client.
    public var status: Int {
        switch kind {
        case .badRequest: 400
        case .uriTooLong: 414
        case .headersTooLarge: 431
        case .bodyTooLarge: 413
        case .versionNotSupported: 505
        case .notImplemented: 501
        }
    }

    public var description: String { "\(status) \(HTTPResponseHead.standardReason(status)): \(reason)" }

    static func bad(_ reason: String) -> HTTPParseError { HTTPParseError(.badRequest, reason) }
}
