/// Turns a complete response head (as delimited by `HeadAccumulator`) into an `HTTPResponseHead` and the framing
/// fields; the framing itself also depends on the request (`FramingRules.responseFraming`).
enum ResponseHeadParser {
    /// Parses and validates `head`, which ends with its empty line. `fieldCount` sizes the header list.
    static func parse(
        _ head: UnsafeRawBufferPointer, fieldCount: Int
    ) throws(HTTPParseError) -> (head: HTTPResponseHead, fields: FramingFields) {
        let (line, fieldsStart) = StartLine.locate(in: head)
        let statusLine = try StatusLineParser.parse(head, line: line)
        var fields = FramingFields()
        var headers = try HeaderFieldParser.parseFields(head, from: fieldsStart, count: fieldCount, framing: &fields)
        if fields.contentLengthNeedsCollapse, let length = fields.contentLength {
            headers.collapse("Content-Length", to: String(length))
        }
        let response = HTTPResponseHead(
            status: statusLine.status, reason: statusLine.reason, version: statusLine.version, headers: headers)
        return (response, fields)
    }
}
