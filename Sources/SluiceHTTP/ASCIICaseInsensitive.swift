/// ASCII case-insensitive comparison of UTF-8 byte sequences, used for field names and list tokens.
///
/// Only A–Z fold: HTTP names are ASCII tokens, and Unicode case folding would make distinct names collide.
enum ASCIICaseInsensitive {
    /// True when the two byte strings are equal after folding A–Z to a–z.
    static func equals(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Bool {
        guard a.count == b.count else { return false }
        for i in 0..<a.count where ASCII.lowercased(a[i]) != ASCII.lowercased(b[i]) {
            return false
        }
        return true
    }

    /// True when `bytes` equals `lowercaseLiteral` after folding; the literal must already be lowercase.
    @inline(__always)
    static func equals(_ bytes: UnsafeRawBufferPointer, lowercaseLiteral: StaticString) -> Bool {
        guard bytes.count == lowercaseLiteral.utf8CodeUnitCount else { return false }
        let literal = lowercaseLiteral.utf8Start
        for i in 0..<bytes.count where ASCII.lowercased(bytes[i]) != literal[i] {
            return false
        }
        return true
    }
}
