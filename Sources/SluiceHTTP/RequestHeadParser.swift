/// Turns a complete request head (as delimited by `HeadAccumulator`) into an `HTTPRequestHead` and its framing.
enum RequestHeadParser {
    /// Parses and validates `head`, which ends with its empty line. `fieldCount` sizes the header list.
    /// Throws for any syntax violation, a missing or repeated Host in HTTP/1.1 (400), and framing errors.
    static func parse(
        _ head: UnsafeRawBufferPointer, fieldCount: Int, limits: HTTPLimits
    ) throws(HTTPParseError) -> (head: HTTPRequestHead, framing: BodyFraming) {
        let (line, fieldsStart) = StartLine.locate(in: head)
        let requestLine = try RequestLineParser.parse(head, line: line)
        var fields = FramingFields()
        var headers = try HeaderFieldParser.parseFields(head, from: fieldsStart, count: fieldCount, framing: &fields)
        if fields.hostCount > 1 { throw .bad("more than one Host") }
        if fields.hostCount == 0 && requestLine.version == .http1_1 { throw .bad("HTTP/1.1 request without Host") }
        let framing = try FramingRules.requestFraming(fields, version: requestLine.version, limits: limits)
        if fields.contentLengthNeedsCollapse, let length = fields.contentLength {
            headers.collapse("Content-Length", to: String(length))
        }
        let request = HTTPRequestHead(
            method: requestLine.method, target: requestLine.target, version: requestLine.version, headers: headers)
        return (request, framing)
    }
}
