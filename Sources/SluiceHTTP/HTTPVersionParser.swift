/// Reads the HTTP-version of a start line: exactly "HTTP/" DIGIT "." DIGIT, case-sensitive (RFC 9112 section 2.3).
enum HTTPVersionParser {
    /// The version in `bytes`. Throws 400 when the text is not a version at all, 505 for a well-formed version other
    /// than 1.0 and 1.1.
    static func parse(_ bytes: UnsafeRawBufferPointer) throws(HTTPParseError) -> HTTPVersion {
        guard bytes.count == 8,
              bytes[0] == UInt8(ascii: "H"), bytes[1] == UInt8(ascii: "T"), bytes[2] == UInt8(ascii: "T"),
              bytes[3] == UInt8(ascii: "P"), bytes[4] == ASCII.slash, ASCII.isDigit(bytes[5]),
              bytes[6] == ASCII.dot, ASCII.isDigit(bytes[7])
        else { throw .bad("malformed HTTP version") }
        let version = HTTPVersion(major: Int(bytes[5] &- ASCII.zero), minor: Int(bytes[7] &- ASCII.zero))
        guard version == .http1_1 || version == .http1_0 else {
            throw HTTPParseError(.versionNotSupported, "unsupported HTTP version \(version)")
        }
        return version
    }
}
