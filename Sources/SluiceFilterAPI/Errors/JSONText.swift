/// Helpers for writing JSON by hand, for code that renders small JSON documents without a
/// serializer (error bodies, synthesized events).
public enum JSONText {
    /// `s` as a JSON string literal, quotes included: `"` and `\` escaped, control characters
    /// (U+0000 to U+001F) written as `\n`, `\r`, `\t`, `\b`, `\f` or `\u00XX`; everything else,
    /// non-ASCII included, is kept as UTF-8.
    public static func quoted(_ s: String) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(s.utf8.count + 2)
        appendQuoted(s, to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Appends `s` as a JSON string literal (see `quoted(_:)`) to a byte buffer.
    public static func appendQuoted(_ s: String, to buffer: inout [UInt8]) {
        buffer.append(0x22)
        for byte in s.utf8 {
            switch byte {
            case 0x22: buffer.append(contentsOf: [0x5C, 0x22])
            case 0x5C: buffer.append(contentsOf: [0x5C, 0x5C])
            case 0x0A: buffer.append(contentsOf: [0x5C, 0x6E])
            case 0x0D: buffer.append(contentsOf: [0x5C, 0x72])
            case 0x09: buffer.append(contentsOf: [0x5C, 0x74])
            case 0x08: buffer.append(contentsOf: [0x5C, 0x62])
            case 0x0C: buffer.append(contentsOf: [0x5C, 0x66])
            case 0x00..<0x20:
                buffer.append(contentsOf: [0x5C, 0x75, 0x30, 0x30, hexDigit(byte >> 4), hexDigit(byte & 0x0F)])
            default:
                buffer.append(byte)
            }
        }
        buffer.append(0x22)
    }

    private static func hexDigit(_ nibble: UInt8) -> UInt8 {
        nibble < 10 ? 0x30 + nibble : 0x61 + nibble - 10
    }
}
