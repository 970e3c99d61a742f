/// Byte constants and character classes of the HTTP grammar (RFC 9110 section 5.6), shared by the parsers and writers.
///
/// The classes are bit masks rather than lookup arrays: a global array would cost a lazy-initialisation check on every
/// access, while a 64-bit literal folds into the instruction stream.
enum ASCII {
    static let cr: UInt8 = 0x0D
    static let lf: UInt8 = 0x0A
    static let space: UInt8 = 0x20
    static let tab: UInt8 = 0x09
    static let colon: UInt8 = 0x3A
    static let semicolon: UInt8 = 0x3B
    static let comma: UInt8 = 0x2C
    static let slash: UInt8 = 0x2F
    static let dot: UInt8 = 0x2E
    static let zero: UInt8 = 0x30
    static let nine: UInt8 = 0x39
    static let delete: UInt8 = 0x7F

    static let crlf: [UInt8] = [0x0D, 0x0A]
    static let colonSpace: [UInt8] = [0x3A, 0x20]
    static let http1_1: [UInt8] = Array("HTTP/1.1".utf8)
    static let http1_0: [UInt8] = Array("HTTP/1.0".utf8)

    // tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." / "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA
    // Indexed by byte value 0...127: "1" marks a tchar. A StaticString lives in read-only data, so a lookup is one
    // load, with no lazy initialisation.
    private static let tokenTable: StaticString =
        "00000000000000000000000000000000010111110011011011111111110000000111111111111111111111111110001111111111111111111111111111101010"

    @inline(__always)
    static func isTokenChar(_ byte: UInt8) -> Bool {
        byte < 128 && tokenTable.utf8Start[Int(byte)] == UInt8(ascii: "1")
    }

    /// SP or HTAB: the optional whitespace (OWS) around field values and list elements.
    @inline(__always)
    static func isWhitespace(_ byte: UInt8) -> Bool { byte == space || byte == tab }

    /// Control characters other than HTAB, which may never appear in a field value (NUL, CR and LF included).
    @inline(__always)
    static func isForbiddenInFieldValue(_ byte: UInt8) -> Bool { (byte < 0x20 && byte != tab) || byte == delete }

    @inline(__always)
    static func isDigit(_ byte: UInt8) -> Bool { byte &- zero < 10 }

    /// The value of a hexadecimal digit, or nil for any other byte.
    @inline(__always)
    static func hexValue(_ byte: UInt8) -> Int? {
        if byte &- zero < 10 { return Int(byte &- zero) }
        let folded = byte | 0x20
        if folded &- 0x61 < 6 { return Int(folded &- 0x61 &+ 10) }
        return nil
    }

    @inline(__always)
    static func lowercased(_ byte: UInt8) -> UInt8 { byte &- 0x41 < 26 ? byte | 0x20 : byte }

    /// Whether `bytes` are exactly the UTF-8 of `text` (a literal, usually: its bytes are read in place).
    @inline(__always)
    static func equals(_ bytes: UnsafeRawBufferPointer, _ text: String) -> Bool {
        var text = text
        return bytes.count == text.utf8.count && text.withUTF8 { utf8 in
            for i in 0..<bytes.count where bytes[i] != utf8[i] { return false }
            return true
        }
    }
}
