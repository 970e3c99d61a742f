/// The last event of one stream that the classifier read in full, kept so that the next event of
/// the same shape is answered without reading its JSON again.
///
/// A stream repeats itself. From its second event on, an OpenAI-style chunk is the bytes of the
/// chunk before it except inside a few strings: the content token, and values the classifier
/// skips (`id`, `model`, `system_fingerprint`, `obfuscation`). The shape keeps the bytes of the last
/// event read in full and where those strings lie (`JSONStringHoles`). A new event matches when
/// its bytes equal the kept ones everywhere outside the holes and each hole holds a well-formed
/// string. The classifier's walk over it would then take exactly the steps it took over the kept
/// event (every byte it looks at outside a string's content is the same, and every string ends
/// where it did), so the answer is the kept one, except that whether the content strings are
/// empty is read again.
///
/// Only answers of the common kind are kept: no usage, finish reason or error (those carry strings
/// or numbers that a match would not read). An event that does not match is read in full and
/// becomes the kept one when its answer is of that kind. Owned by one exchange; loop thread.
package struct LLMEventShape {
    /// The kept event's bytes; empty when nothing is kept.
    private var kept: [UInt8] = []
    /// Where the kept event's strings lie whose content the answer does not depend on, or depends
    /// on only through being empty. Also the log the full read writes into.
    private var holes = JSONStringHoles()
    /// The kept event's kind when none of its `.presence` strings holds anything: `.content`
    /// when it carried content elsewhere (a non-empty `tool_calls` array, say).
    private var kindWithoutContent = LLMEventInfo.Kind.other

    package init() {}

    /// The kind of `data` when it has the kept event's shape; nil when nothing is kept or it does
    /// not match (then read it in full).
    ///
    /// Compares the bytes as far as they agree, 32 at a time, not segment by segment: most holes
    /// (an id, the model) hold the same string in every event, and are passed over with the bytes
    /// around them. Where the bytes first differ must be inside a hole; the data's string there is
    /// scanned to its end, and the comparison goes on from its closing quote.
    package func kind(of data: UnsafeBufferPointer<UInt8>) -> LLMEventInfo.Kind? {
        guard !kept.isEmpty, let d0 = data.baseAddress else { return nil }
        return kept.withUnsafeBufferPointer { kept in
            holes.holes.withUnsafeBufferPointer { holes -> LLMEventInfo.Kind? in
                let k0 = kept.baseAddress.unsafelyUnwrapped
                let reader = JSONByteReader(data)
                var d = 0
                var k = 0
                var next = 0
                var content = false
                while true {
                    let same = Self.commonPrefix(d0 + d, data.count &- d, k0 + k, kept.count &- k)
                    d &+= same
                    k &+= same
                    if k == kept.count, d == data.count { break }
                    // The holes wholly before the difference hold what they held in the kept event.
                    while next < holes.count, Int(holes[next].end) < k {
                        if holes[next].use == .presence, holes[next].end > holes[next].start { content = true }
                        next &+= 1
                    }
                    guard next < holes.count, Int(holes[next].start) <= k else { return nil }
                    let hole = holes[next]
                    let start = d &- (k &- Int(hole.start))
                    let end = reader.endOfStringContent(at: start)
                    guard end >= 0 else { return nil }
                    if hole.use == .presence, end > start { content = true }
                    d = end
                    k = Int(hole.end)
                    next &+= 1
                }
                while next < holes.count {
                    if holes[next].use == .presence, holes[next].end > holes[next].start { content = true }
                    next &+= 1
                }
                return content ? .content : kindWithoutContent
            }
        }
    }

    /// Runs `read` (the classifier's full read of one event) with a reader whose holes this shape
    /// records. Then `keep` or `forget`.
    package mutating func recordingHoles<R>(of reader: inout JSONByteReader, _ read: (inout JSONByteReader) -> R) -> R {
        holes.removeAll()
        return withUnsafeMutablePointer(to: &holes) { log in
            reader.holes = log
            defer { reader.holes = nil }
            return read(&reader)
        }
    }

    /// Keeps `data`, just read in full with its holes recorded, as the shape to match: its kind is
    /// `kindWithoutContent` when its `.presence` strings are empty, and `.content` otherwise.
    package mutating func keep(_ data: UnsafeBufferPointer<UInt8>, kindWithoutContent: LLMEventInfo.Kind) {
        guard !holes.overflowed else {
            forget()
            return
        }
        kept.removeAll(keepingCapacity: true)
        kept.append(contentsOf: data)
        self.kindWithoutContent = kindWithoutContent
    }

    /// Keeps nothing: the next event is read in full.
    package mutating func forget() {
        kept.removeAll(keepingCapacity: true)
    }

    /// How many bytes from `a` (of `aCount`) and `b` (of `bCount`) agree before the first that
    /// differs: 32 bytes a step, their words told apart by one test.
    @inline(always)
    private static func commonPrefix(_ a: UnsafePointer<UInt8>, _ aCount: Int, _ b: UnsafePointer<UInt8>, _ bCount: Int) -> Int {
        let count = aCount < bCount ? aCount : bCount
        let ra = UnsafeRawPointer(a)
        let rb = UnsafeRawPointer(b)
        @inline(always) func difference(_ offset: Int) -> UInt64 {
            ra.loadUnaligned(fromByteOffset: offset, as: UInt64.self) ^ rb.loadUnaligned(fromByteOffset: offset, as: UInt64.self)
        }
        @inline(always) func firstDifferent(_ offset: Int, _ difference: UInt64) -> Int {
            offset &+ difference.trailingZeroBitCount &>> 3
        }
        var i = 0
        while count &- i >= 32 {
            let x0 = difference(i), x1 = difference(i &+ 8), x2 = difference(i &+ 16), x3 = difference(i &+ 24)
            if x0 | x1 | x2 | x3 != 0 {
                if x0 != 0 { return firstDifferent(i, x0) }
                if x1 != 0 { return firstDifferent(i &+ 8, x1) }
                if x2 != 0 { return firstDifferent(i &+ 16, x2) }
                return firstDifferent(i &+ 24, x3)
            }
            i &+= 32
        }
        while count &- i >= 8 {
            let x = difference(i)
            if x != 0 { return firstDifferent(i, x) }
            i &+= 8
        }
        if count >= 8 {
            // The last word ends at the last byte, overlapping bytes already known to agree.
            let x = difference(count &- 8)
            return x == 0 ? count : firstDifferent(count &- 8, x)
        }
        while i < count, a[i] == b[i] { i &+= 1 }
        return i
    }
}
