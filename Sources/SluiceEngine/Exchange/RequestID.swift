/// Request ids: the client's when it is sane, otherwise 32 random hex digits.
enum RequestID {
    static func make(propagating given: String?) -> String {
        if let given, given.utf8.count <= 128, !given.isEmpty,
           given.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7f && $0 != UInt8(ascii: ",") && $0 != UInt8(ascii: "\"") }) {
            return given
        }
        var rng = SystemRandomNumberGenerator()
        // Written straight into the string's storage: no array for the digits, none for the table.
        return String(unsafeUninitializedCapacity: 32) { out in
            let hex: StaticString = "0123456789abcdef"
            for half in 0..<2 {
                var v = rng.next() as UInt64
                for j in 0..<16 {
                    out[half &* 16 &+ j] = hex.utf8Start[Int(v & 0xf)]
                    v >>= 4
                }
            }
            return 32
        }
    }
}
