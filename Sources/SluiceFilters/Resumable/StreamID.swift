/// A resumable stream's id: 128 bits from the system's CSPRNG (`SystemRandomNumberGenerator`:
/// `getrandom` on Linux), as 32 lower-case hex digits. Knowing one id tells nothing of another, so
/// an id cannot be guessed; the stream is also bound to its client's credential
/// (`CredentialDigest`). Any thread.
public enum StreamID {
    /// Digits in an id.
    public static let length = 32

    /// A fresh id.
    public static func make() -> String {
        var generator = SystemRandomNumberGenerator()
        let hex = Array("0123456789abcdef".utf8)
        var digits: [UInt8] = []
        digits.reserveCapacity(length)
        for _ in 0..<2 {
            var bits: UInt64 = generator.next()
            for _ in 0..<16 {
                digits.append(hex[Int(bits & 0xf)])
                bits >>= 4
            }
        }
        return String(decoding: digits, as: UTF8.self)
    }

    /// True when `text` has the shape of an id (32 lower-case hex digits). Anything else is unknown
    /// before any lookup.
    public static func isWellFormed<S: StringProtocol>(_ text: S) -> Bool {
        text.utf8.count == length && text.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }
    }
}
