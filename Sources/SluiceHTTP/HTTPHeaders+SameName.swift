extension HTTPHeaders {
    /// Whether `a` and `b` name the same field, as `a.lowercased() == b.lowercased()` does: when
    /// both are ASCII (every real field name), A–Z are folded on the bytes with no copies.
    public static func sameName(_ a: String, _ b: String) -> Bool {
        var a = a, b = b
        let ascii: Bool? = a.withUTF8 { x in
            b.withUTF8 { y in
                guard isASCII(x), isASCII(y) else { return nil }
                return ASCIICaseInsensitive.equals(UnsafeRawBufferPointer(x), UnsafeRawBufferPointer(y))
            }
        }
        return ascii ?? (a.lowercased() == b.lowercased())
    }

    /// Whether the field name `bytes` (as it lies in a head) and `name` are the same, folding A–Z
    /// only: for comparing a head's fields with names a filter gave, with no copy of either.
    public static func sameName(_ bytes: UnsafeRawBufferPointer, _ name: String) -> Bool {
        var name = name
        return name.withUTF8 { ASCIICaseInsensitive.equals(bytes, UnsafeRawBufferPointer($0)) }
    }

    private static func isASCII(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        var high: UInt8 = 0
        for byte in bytes { high |= byte }
        return high < 0x80
    }
}
