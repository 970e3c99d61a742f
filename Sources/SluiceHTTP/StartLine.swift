/// Locates the start line of a complete head (as delimited by `HeadAccumulator`).
enum StartLine {
    /// The start line's content, without its CRLF, and the offset where the field lines begin.
    static func locate(in head: UnsafeRawBufferPointer) -> (line: Range<Int>, fieldsStart: Int) {
        // The accumulator guarantees an LF preceded by CR, and a start line that is not empty.
        let lf = ByteSearch.firstIndex(of: ASCII.lf, in: head, from: 0, to: head.count)
        return (0..<(lf &- 1), lf &+ 1)
    }
}
