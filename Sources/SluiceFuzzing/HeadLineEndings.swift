/// The rule a message head must keep whatever else it holds: every CR is followed by LF and every LF
/// follows a CR. A head a parser accepted with a bare CR or LF in it is read differently by other
/// parsers on the path, which is how requests are smuggled.
enum HeadLineEndings {
    /// Throws when `input[start..<end]`, a head the parser accepted, has a bare CR or LF.
    static func check(_ input: UnsafeRawBufferPointer, from start: Int, to end: Int, what: String) throws(FuzzFinding) {
        guard start <= end, end <= input.count else {
            throw FuzzFinding("\(what) head ends outside the input", details: "\(start)..<\(end) of \(input.count)")
        }
        var index = start
        while index < end {
            let byte = input[index]
            if byte == 0x0D, index + 1 >= end || input[index + 1] != 0x0A {
                throw FuzzFinding("\(what) head accepted with a bare CR", details: "at offset \(index) of \(start)..<\(end)")
            }
            if byte == 0x0A, index == start || input[index - 1] != 0x0D {
                throw FuzzFinding("\(what) head accepted with a bare LF", details: "at offset \(index) of \(start)..<\(end)")
            }
            index += 1
        }
    }
}
