/// Reads field lines: field-name ":" OWS field-value OWS (RFC 9112 section 5), with no obs-fold, no whitespace before
/// the colon and no control characters in values. `BodyDecoder` applies the same rules to trailers, byte by byte,
/// and shares the error wording (`fieldNameError`).
enum HeaderFieldParser {
    /// Parses the field lines of `head` from offset `start` (just after the start line's CRLF) up to the empty line
    /// that ends it, in order, reporting each to `framing`. `count` is the number of field lines
    /// (`HeadAccumulator.fieldCount`), used to size the list once.
    ///
    /// `head` must be a complete head as delimited by `HeadAccumulator`: it ends with CRLF CRLF and every LF in it
    /// follows a CR. That is what lets the scans below run without bounds checks against the end: they always stop
    /// at a CR at the latest.
    ///
    /// The head ends only at its final CRLF, never at the first line that starts with a CR: a bare CR at the start
    /// of a line ("\rX: y") would otherwise end the head early for us while the bytes after it stay in the
    /// stream, where they would be read as a body or as a second request (request smuggling).
    static func parseFields(
        _ head: UnsafeRawBufferPointer, from start: Int, count: Int, framing: inout FramingFields
    ) throws(HTTPParseError) -> HTTPHeaders {
        var headers = HTTPHeaders(head: head, capacity: count)
        var position = start
        let emptyLine = head.count &- 2
        while position < emptyLine {
            let field = try parseField(head, at: position)
            let known = KnownFieldName(UnsafeRawBufferPointer(rebasing: head[field.name]))
            try framing.observe(name: known, value: UnsafeRawBufferPointer(rebasing: head[field.value]))
            headers.appendValidated(name: field.name, value: field.value, known: known)
            position = field.next
        }
        return headers
    }

    /// Parses the field line starting at `start`: name, trimmed value, and the offset of the next line. Values may
    /// carry obs-text (bytes >= 0x80), which is kept as is.
    static func parseField(
        _ head: UnsafeRawBufferPointer, at start: Int
    ) throws(HTTPParseError) -> (name: Range<Int>, value: Range<Int>, next: Int) {
        // Stops at the CR that ends the line at the latest.
        let nameEnd = ByteSearch.endOfToken(in: head, from: start, to: head.count)
        guard head[nameEnd] == ASCII.colon else {
            let byte = head[nameEnd]
            if byte == ASCII.cr && head[nameEnd &+ 1] == ASCII.lf { throw .bad("field line without colon") }
            throw fieldNameError(byte, atLineStart: nameEnd == start)
        }
        guard nameEnd > start else { throw .bad("empty field name") }

        var index = nameEnd &+ 1
        while ASCII.isWhitespace(head[index]) { index &+= 1 }
        let valueStart = index
        // The first byte a value may not contain is normally the CR that ends the line.
        let lineEnd = ByteSearch.firstForbiddenInFieldValue(in: head, from: index, to: head.count)
        guard head[lineEnd] == ASCII.cr && head[lineEnd &+ 1] == ASCII.lf else {
            throw .bad(head[lineEnd] == ASCII.cr ? "bare CR in field value" : "control character in field value")
        }
        var valueEnd = lineEnd
        while valueEnd > valueStart && ASCII.isWhitespace(head[valueEnd &- 1]) { valueEnd &-= 1 }
        return (start..<nameEnd, valueStart..<valueEnd, lineEnd &+ 2)
    }

    /// The error for a field line whose name is not followed directly by ':' (`byte` is the offending byte, nil when
    /// the line ended).
    static func fieldNameError(_ byte: UInt8?, atLineStart: Bool) -> HTTPParseError {
        guard let byte else { return .bad("field line without colon") }
        if ASCII.isWhitespace(byte) {
            return .bad(atLineStart ? "obs-fold or whitespace at line start" : "whitespace before colon")
        }
        if byte == ASCII.cr { return .bad(atLineStart ? "bare CR at the start of a field line" : "bare CR in field name") }
        return .bad("invalid character in field name")
    }
}
