/// Decides a message's body framing from its head (RFC 9112 section 6), refusing every combination that two
/// implementations could read differently. One implementation serves requests and responses alike.
enum FramingRules {
    /// The framing the fields declare: `.chunked`, `.contentLength(n)`, or nil when neither field is present.
    ///
    /// Throws 400 for Content-Length with Transfer-Encoding, Transfer-Encoding in HTTP/1.0, an empty
    /// Transfer-Encoding, a final coding other than chunked, or chunked applied twice; 501 for any other coding
    /// (we decode none).
    static func declaredFraming(_ fields: FramingFields, version: HTTPVersion) throws(HTTPParseError) -> BodyFraming? {
        if fields.hasTransferEncoding {
            if fields.contentLength != nil { throw .bad("Content-Length and Transfer-Encoding together") }
            if version == .http1_0 { throw .bad("Transfer-Encoding in an HTTP/1.0 message") }
            if fields.codingCount == 0 { throw .bad("empty Transfer-Encoding") }
            if !fields.lastCodingIsChunked { throw .bad("final transfer coding is not chunked") }
            if fields.chunkedCount > 1 { throw .bad("chunked applied more than once") }
            if fields.hasOtherCoding { throw HTTPParseError(.notImplemented, "transfer coding other than chunked") }
            return .chunked
        }
        if let length = fields.contentLength { return .contentLength(length) }
        return nil
    }

    /// A request's framing: as declared, or no body when nothing is declared (requests are never close-delimited).
    /// Throws 413 for a Content-Length above `limits.maxBodyBytes`.
    static func requestFraming(
        _ fields: FramingFields, version: HTTPVersion, limits: HTTPLimits
    ) throws(HTTPParseError) -> BodyFraming {
        let framing = try declaredFraming(fields, version: version) ?? .none
        try checkLength(framing, limits: limits)
        return framing
    }

    /// A response's framing. Responses to HEAD and 1xx/204/304 never have a body, whatever they declare (the
    /// declaration is still validated); otherwise an undeclared body runs until the connection closes.
    /// Throws 413 for a Content-Length above `limits.maxBodyBytes` on a response that has a body.
    static func responseFraming(
        _ fields: FramingFields, version: HTTPVersion, status: Int, requestWasHEAD: Bool, limits: HTTPLimits
    ) throws(HTTPParseError) -> BodyFraming {
        let declared = try declaredFraming(fields, version: version)
        if requestWasHEAD || status < 200 || status == 204 || status == 304 { return .none }
        let framing = declared ?? .closeDelimited
        try checkLength(framing, limits: limits)
        return framing
    }

    private static func checkLength(_ framing: BodyFraming, limits: HTTPLimits) throws(HTTPParseError) {
        if case .contentLength(let length) = framing, length > limits.maxBodyBytes {
            throw HTTPParseError(.bodyTooLarge, "Content-Length exceeds the body limit")
        }
    }
}
