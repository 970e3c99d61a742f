/// Reads a status line: HTTP-version SP 3DIGIT SP reason-phrase (RFC 9112 section 4). The reason phrase is treated
/// tolerantly: it may be missing along with its SP, and any bytes but CR are kept (invalid UTF-8 is repaired).
enum StatusLineParser {
    struct StatusLine {
        var version: HTTPVersion
        var status: Int
        var reason: String
    }

    /// Parses `head[line]`, the status line without its CRLF. Status codes are 100...999.
    static func parse(_ head: UnsafeRawBufferPointer, line: Range<Int>) throws(HTTPParseError) -> StatusLine {
        let start = line.lowerBound
        let end = line.upperBound
        guard end &- start >= 12, head[start &+ 8] == ASCII.space else { throw .bad("malformed status line") }
        let version = try HTTPVersionParser.parse(UnsafeRawBufferPointer(rebasing: head[start..<(start &+ 8)]))
        let first = head[start &+ 9], second = head[start &+ 10], third = head[start &+ 11]
        guard first >= UInt8(ascii: "1") && first <= ASCII.nine, ASCII.isDigit(second), ASCII.isDigit(third) else {
            throw .bad("status code is not three digits")
        }
        let status = Int(first &- ASCII.zero) * 100 + Int(second &- ASCII.zero) * 10 + Int(third &- ASCII.zero)
        var reason = ""
        if end > start &+ 12 {
            guard head[start &+ 12] == ASCII.space else { throw .bad("status code is not three digits") }
            let phrase = UnsafeRawBufferPointer(rebasing: head[(start &+ 13)..<end])
            if phrase.contains(ASCII.cr) { throw .bad("bare CR in status line") }
            // The usual phrase is the standard one, a literal: no String is made and checked for it.
            let standard = HTTPResponseHead.standardReason(status)
            reason = ASCII.equals(phrase, standard) ? standard : String(decoding: phrase, as: UTF8.self)
        }
        return StatusLine(version: version, status: status, reason: reason)
    }
}
