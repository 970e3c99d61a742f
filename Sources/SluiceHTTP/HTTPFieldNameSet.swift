/// A set of field names to look for in a head, made once (a static list of the fields a proxy drops
/// or replaces) and matched against each field's bytes: no String work per field. Names compare as
/// `HTTPHeaders` compares them, ASCII case-insensitively.
public struct HTTPFieldNameSet: Sendable {
    /// The names, lowercased (A–Z only), one after the other.
    private let bytes: [UInt8]
    /// Where each name starts in `bytes`, and one more entry for the end of the last.
    private let starts: [Int]
    /// Bit n set when a name is n bytes long (bit 63: 63 bytes or more).
    private let lengths: UInt64

    public init(_ names: [String]) {
        var bytes: [UInt8] = []
        var starts: [Int] = [0]
        var lengths: UInt64 = 0
        for name in names {
            bytes.append(contentsOf: name.utf8.map(ASCII.lowercased))
            starts.append(bytes.count)
            lengths |= Self.bit(name.utf8.count)
        }
        self.bytes = bytes
        self.starts = starts
        self.lengths = lengths
    }

    @inline(__always)
    private static func bit(_ length: Int) -> UInt64 { 1 << UInt64(Swift.min(length, 63)) }

    /// Whether `name` (a field's name as it was sent) is one of the set's.
    func contains(_ name: UnsafeRawBufferPointer) -> Bool {
        // Most fields differ in length from every name, which one bit answers.
        guard lengths & Self.bit(name.count) != 0 else { return false }
        return bytes.withUnsafeBytes { all in
            for i in 0..<(starts.count - 1) where starts[i + 1] - starts[i] == name.count {
                if ASCIICaseInsensitive.equals(name, UnsafeRawBufferPointer(rebasing: all[starts[i]..<starts[i + 1]])) {
                    return true
                }
            }
            return false
        }
    }
}
