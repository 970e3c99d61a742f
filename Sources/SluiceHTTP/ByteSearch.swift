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
}
