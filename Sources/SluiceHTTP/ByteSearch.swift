/// Word-at-a-time byte scanning for the head paths: eight bytes per step instead of one, without leaving Swift.
///
/// The tricks are the classic "has zero byte" family: for each byte lane, `(x - 0x01) & ~x & 0x80` is set when the
/// lane is zero. Borrows only travel upwards, so the lowest flagged lane is always a true hit, which is all a forward
/// search needs.
enum ByteSearch {
    private static let ones: UInt64 = 0x0101_0101_0101_0101
    private static let highBits: UInt64 = 0x8080_8080_8080_8080

    /// The offset of the first `target` byte in `buffer[start..<end]`, or `end` when there is none.
    @inline(__always)
    static func firstIndex(of target: UInt8, in buffer: UnsafeRawBufferPointer, from start: Int, to end: Int) -> Int {
        var index = start
        let pattern = ones &* UInt64(target)
        while index &+ 8 <= end {
            let word = UInt64(littleEndian: buffer.loadUnaligned(fromByteOffset: index, as: UInt64.self)) ^ pattern
            let zeroLanes = (word &- ones) & ~word & highBits
            if zeroLanes != 0 { return index &+ zeroLanes.trailingZeroBitCount / 8 }
            index &+= 8
        }
        while index < end {
            if buffer[index] == target { return index }
            index &+= 1
        }
        return end
    }

    /// The offset of the first byte in `buffer[start..<end]` that may not appear in a field value: a control
    /// character other than HTAB, or DEL (`ASCII.isForbiddenInFieldValue`). `end` when there is none.
    ///
    /// Most values are clean, so one word test usually clears eight bytes. HTAB trips the "below 0x20" test, so a
    /// hit on it resumes the scan just after it. Bytes >= 0x80 (obs-text) pass: their high bit is set in `word`, so
    /// `~word` masks them out of the "below 0x20" lanes.
    @inline(__always)
    static func firstForbiddenInFieldValue(in buffer: UnsafeRawBufferPointer, from start: Int, to end: Int) -> Int {
        var index = start
        let below20 = ones &* 0x20
        let deletePattern = ones &* 0x7F
        while index &+ 8 <= end {
            let word = UInt64(littleEndian: buffer.loadUnaligned(fromByteOffset: index, as: UInt64.self))
            let controls = (word &- below20) & ~word & highBits
            let deletes = ((word ^ deletePattern) &- ones) & ~(word ^ deletePattern) & highBits
            let flagged = controls | deletes
            if flagged != 0 {
                // The lowest flagged lane is a true hit (see above); HTAB is the one allowed control, so skip it.
                let offset = index &+ flagged.trailingZeroBitCount / 8
                if buffer[offset] != ASCII.tab { return offset }
                index = offset &+ 1
                continue
            }
            index &+= 8
        }
        while index < end {
            if ASCII.isForbiddenInFieldValue(buffer[index]) { return index }
            index &+= 1
        }
        return end
    }

    /// Whether `bytes` holds CR, LF or NUL (the bytes that could end a line or a head early).
    static func containsLineBreak(_ bytes: UnsafeRawBufferPointer) -> Bool {
        let count = bytes.count
        guard count >= 8 else {
            // Bits 0, 10 and 13 of the mask: NUL, LF and CR.
            for byte in bytes where byte <= ASCII.cr && (0x2401 as UInt16) >> byte & 1 != 0 { return true }
            return false
        }
        let cr = ones &* UInt64(ASCII.cr), lf = ones &* UInt64(ASCII.lf)
        var index = 0
        while true {
            // The last word may overlap the one before: it ends exactly at the end.
            let word = bytes.loadUnaligned(fromByteOffset: Swift.min(index, count &- 8), as: UInt64.self)
            if hasZeroLane(word) || hasZeroLane(word ^ cr) || hasZeroLane(word ^ lf) { return true }
            index &+= 8
            if index >= count { return false }
        }
    }

    /// Whether `bytes` holds SP, a control character or DEL (the bytes that could split or end a request line).
    static func containsSpaceControlOrDelete(_ bytes: UnsafeRawBufferPointer) -> Bool {
        let below21 = ones &* 0x21, delete = ones &* UInt64(ASCII.delete)
        return containsLane(bytes, where: { ($0 &- below21) & ~$0 & highBits != 0 || hasZeroLane($0 ^ delete) }) {
            $0 <= ASCII.space || $0 == ASCII.delete
        }
    }

    /// Whether a lane of `word` is zero. Exact as an answer for the whole word: a borrow can flag a lane above
    /// a zero one, never a word with none.
    @inline(__always)
    private static func hasZeroLane(_ word: UInt64) -> Bool { (word &- ones) & ~word & highBits != 0 }

    /// Whether `bytes` holds a byte `byteTest` answers true for: eight at a time with `wordTest` (true when a
    /// lane of the word is such a byte), the last word overlapping the one before it; byte by byte under eight.
    @inline(__always)
    private static func containsLane(
        _ bytes: UnsafeRawBufferPointer, where wordTest: (UInt64) -> Bool, _ byteTest: (UInt8) -> Bool
    ) -> Bool {
        let count = bytes.count
        guard count >= 8 else {
            for byte in bytes where byteTest(byte) { return true }
            return false
        }
        var index = 0
        while index &+ 8 < count {
            if wordTest(bytes.loadUnaligned(fromByteOffset: index, as: UInt64.self)) { return true }
            index &+= 8
        }
        return wordTest(bytes.loadUnaligned(fromByteOffset: count &- 8, as: UInt64.self))
    }

    /// The offset of the first byte in `buffer[start..<end]` that is not a token character (RFC 9110 tchar), or
    /// `end` when there is none: the end of a field name.
    ///
    /// Names are mostly letters, digits and '-': eight bytes at a time are checked for those alone, and the first
    /// byte that is not one of them is then judged alone, so any other tchar ('_', '.', ...) is still accepted.
    @inline(__always)
    static func endOfToken(in buffer: UnsafeRawBufferPointer, from start: Int, to end: Int) -> Int {
        var index = start
        while index < end {
            if index &+ 8 <= end {
                let others = notAlphanumericOrDash(buffer.loadUnaligned(fromByteOffset: index, as: UInt64.self))
                if others == 0 {
                    index &+= 8
                    continue
                }
                index &+= others.trailingZeroBitCount / 8
            }
            guard ASCII.isTokenChar(buffer[index]) else { return index }
            index &+= 1
        }
        return end
    }

    /// The high bit set in each lane of `word` that is not an ASCII letter, digit or '-'. Exact in every lane:
    /// the sums below stay inside their lane (lanes are taken below 0x80 first), so no carry crosses into another.
    @inline(__always)
    private static func notAlphanumericOrDash(_ word: UInt64) -> UInt64 {
        let low = word & ~highBits
        /// The high bit of each lane of `low` that is at least `c` (1...0x80).
        func atLeast(_ value: UInt64, _ c: UInt64) -> UInt64 { (value &+ ones &* (0x80 &- c)) & highBits }
        let folded = low | (ones &* 0x20)
        let letters = atLeast(folded, 0x61) & ~atLeast(folded, 0x7B)
        let digits = atLeast(low, 0x30) & ~atLeast(low, 0x3A)
        let dashes = atLeast(low, 0x2D) & ~atLeast(low, 0x2E)
        return ~(letters | digits | dashes) & highBits | (word & highBits)
    }

    /// The offset of the first byte in `buffer[start..<end]` that is not visible ASCII (SP, a control character,
    /// DEL or a byte >= 0x80), or `end` when there is none: where a request-target ends, normally at its SP.
    @inline(__always)
    static func firstNotVisibleASCII(in buffer: UnsafeRawBufferPointer, from start: Int, to end: Int) -> Int {
        var index = start
        while index &+ 8 <= end {
            let word = buffer.loadUnaligned(fromByteOffset: index, as: UInt64.self)
            let low = word & ~highBits
            // Lanes of `low` at least 0x21 and at least 0x7F: sums that stay inside their lane (see below).
            let visible = (low &+ ones &* (0x80 &- 0x21)) & ~(low &+ ones &* (0x80 &- 0x7F)) & highBits
            let others = (~visible & highBits) | (word & highBits)
            if others != 0 { return index &+ others.trailingZeroBitCount / 8 }
            index &+= 8
        }
        while index < end {
            let byte = buffer[index]
            if byte <= ASCII.space || byte >= ASCII.delete { return index }
            index &+= 1
        }
        return end
    }
}
