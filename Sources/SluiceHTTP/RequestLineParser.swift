/// Reads a request line: method SP request-target SP HTTP-version, with exactly one SP between parts
/// (RFC 9112 section 3). Anything looser is an opening for request smuggling through a lenient neighbour.
enum RequestLineParser {
    struct RequestLine {
        var method: String
        var target: String
        var version: HTTPVersion
    }

    /// Parses `head[line]`, the request line without its CRLF.
    static func parse(_ head: UnsafeRawBufferPointer, line: Range<Int>) throws(HTTPParseError) -> RequestLine {
        var index = line.lowerBound
        let end = line.upperBound
        while index < end && ASCII.isTokenChar(head[index]) { index &+= 1 }
        let methodEnd = index
        guard methodEnd > line.lowerBound else { throw .bad("missing or invalid method") }
        guard methodEnd < end else { throw .bad("request line has no target") }
        guard head[methodEnd] == ASCII.space else { throw .bad("invalid character in method") }

        let targetStart = methodEnd &+ 1
        // Visible ASCII only: controls, DEL and raw non-ASCII bytes are never valid in a request-target.
        let targetEnd = ByteSearch.firstNotVisibleASCII(in: head, from: targetStart, to: end)
        if targetEnd < end && head[targetEnd] != ASCII.space { throw .bad("invalid character in request target") }
        guard targetEnd > targetStart else { throw .bad("empty request target or extra space") }
        guard targetEnd < end else { throw .bad("request line has no HTTP version") }

        let version = try HTTPVersionParser.parse(UnsafeRawBufferPointer(rebasing: head[(targetEnd &+ 1)..<end]))
        let method = UnsafeRawBufferPointer(rebasing: head[line.lowerBound..<methodEnd])
        let target = UnsafeRawBufferPointer(rebasing: head[targetStart..<targetEnd])
        return RequestLine(
            method: ASCII.equals(method, "POST") ? "POST" : ASCII.equals(method, "GET") ? "GET" : String(decoding: method, as: UTF8.self),
            target: String(decoding: target, as: UTF8.self),
            version: version
        )
    }
}
