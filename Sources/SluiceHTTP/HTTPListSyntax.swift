/// The comma-separated list syntax of RFC 9110 section 5.6.1 (`#element`), as used by Connection,
/// Transfer-Encoding and Content-Length.
enum HTTPListSyntax {
    /// Calls `body` with each element of `value`, surrounding SP/HTAB removed, in order. Empty elements ("a, ,b")
    /// are passed as empty buffers so callers can decide whether they are tolerable. `body` returns false to stop.
    @inline(__always)
    static func forEachElement(in value: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer) -> Bool) {
        var start = 0
        let count = value.count
        while start <= count {
            var end = start
            while end < count && value[end] != ASCII.comma { end += 1 }
            let element = trimmingWhitespace(value, start, end)
            if !body(element) { return }
            start = end + 1
        }
    }

    /// The bytes of `buffer[start..<end]` without leading and trailing SP/HTAB.
    @inline(__always)
    static func trimmingWhitespace(
        _ buffer: UnsafeRawBufferPointer, _ start: Int, _ end: Int
    ) -> UnsafeRawBufferPointer {
        var lower = start
        var upper = end
        while lower < upper && ASCII.isWhitespace(buffer[lower]) { lower += 1 }
        while upper > lower && ASCII.isWhitespace(buffer[upper - 1]) { upper -= 1 }
        return UnsafeRawBufferPointer(rebasing: buffer[lower..<upper])
    }
}
