/// Request ids: the client's when it is sane, otherwise 32 random hex digits.
enum RequestID {
    static func make(propagating given: String?) -> String {
        if let given, given.utf8.count <= 128, !given.isEmpty,
           given.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7f && $0 != UInt8(ascii: ",") && $0 != UInt8(ascii: "\"") }) {
            return given
        }
        var rng = SystemRandomNumberGenerator()
        let hex: [UInt8] = Array("0123456789abcdef".utf8)
        var out = [UInt8](repeating: 0, count: 32)
        for i in stride(from: 0, to: 32, by: 16) {
            var v = rng.next() as UInt64
            for j in 0..<16 {
                out[i + j] = hex[Int(v & 0xf)]
                v >>= 4
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
