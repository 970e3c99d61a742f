/// A set of field names to look for in a head, made once (a static list of the fields a proxy drops
/// or replaces) and matched against each field's bytes: no String work per field. Names compare as
/// `HTTPHeaders` compares them, ASCII case-insensitively.
public struct HTTPFieldNameSet: Sendable {
    /// The set's known names (`KnownFieldName`), one bit each: a field whose name is known is answered by its bit.
    private let known: UInt32
    /// The other names, lowercased (A–Z only), one after the other, shortest first.
    private let bytes: [UInt8]
    /// Where each name starts in `bytes` and how long it is, in the same order.
    private let names: [(start: Int, length: Int)]
    /// For a length n, the names of that length are `names[bucket[min(n, 63)] ..< bucket[min(n, 63) + 1]]`
    /// (bucket 63 holds every name of 63 bytes or more).
    private let bucket: [Int]

    public init(_ names: [String]) {
        var known: UInt32 = 0
        var others: [String] = []
        for var name in names {
            if let id = name.withUTF8({ KnownFieldName(UnsafeRawBufferPointer($0)) }) {
                known |= id.bit
            } else {
                others.append(name)
            }
        }
        self.known = known
        let sorted = others.map { Array($0.utf8.map(ASCII.lowercased)) }.sorted { Self.slot($0.count) < Self.slot($1.count) }
        var bytes: [UInt8] = []
        var entries: [(start: Int, length: Int)] = []
        var bucket = [Int](repeating: 0, count: 65)
        for name in sorted {
            entries.append((bytes.count, name.count))
            bytes.append(contentsOf: name)
            bucket[Self.slot(name.count) + 1] += 1
        }
        for slot in 1..<bucket.count { bucket[slot] += bucket[slot - 1] }
        self.bytes = bytes
        self.names = entries
        self.bucket = bucket
    }

    @inline(__always)
    private static func slot(_ length: Int) -> Int { Swift.min(length, 63) }

    /// Whether `name` (a field's name as it was sent) is one of the set's.
    public func contains(_ name: UnsafeRawBufferPointer) -> Bool {
        if let id = KnownFieldName(name) { return known & id.bit != 0 }
        return !names.isEmpty && containsOther(name)
    }

    /// Whether the field name `name` is one of the set's: a known one by its bit, with no byte compared.
    @inline(__always)
    public func contains(_ name: HTTPFieldNameView) -> Bool {
        if let id = name.known { return known & id.bit != 0 }
        return !names.isEmpty && containsOther(name.bytes)
    }

    /// Whether `name`, which is not a known name, is one of the set's other names.
    private func containsOther(_ name: UnsafeRawBufferPointer) -> Bool {
        let slot = Self.slot(name.count)
        let candidates = bucket[slot]..<bucket[slot + 1]
        // Most fields differ in length from every name, which settles it here.
        guard !candidates.isEmpty else { return false }
        return bytes.withUnsafeBytes { all in
            for i in candidates where names[i].length == name.count {
                let start = names[i].start
                if ASCIICaseInsensitive.equals(name, UnsafeRawBufferPointer(rebasing: all[start..<(start + name.count)])) {
                    return true
                }
            }
            return false
        }
    }
}
