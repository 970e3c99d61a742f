/// Finds the end of one message head in a byte stream that arrives in arbitrary pieces, enforcing the line rules
/// that decide where the head ends (CRLF only) and the size limits, before anything is parsed.
///
/// Bytes of a head that is not complete yet are copied into an internal buffer; a head that arrives whole in one
/// input is never copied. Empty lines before the start line are skipped (RFC 9112 section 2.2).
struct HeadAccumulator: Sendable {
    /// What `scan` found.
    enum Progress {
        /// The head is not complete; every byte of the input was taken (and buffered when it belongs to the head).
        case needMore
        /// The head ends at input offset `headEnd` (just after the final LF). Its bytes in this input start at
        /// `headStart`; earlier bytes of it, if any, are in the internal buffer.
        case complete(headStart: Int, headEnd: Int)
    }

    private enum Phase: UInt8, Sendable {
        case preamble, startLine, fields
    }

    /// How many empty lines may precede a start line. RFC 9112 asks servers to tolerate "at least one"; a few more
    /// cover sloppy clients, while an endless stream of them must not hold a connection forever.
    static let maxLeadingEmptyLines = 8
    /// Capacity kept in the buffer between messages; a larger one is released so idle connections stay small.
    private static let retainedCapacity = 4096

    private var phase = Phase.preamble
    private var buffer: [UInt8] = []
    /// Bytes of the current line so far, including a trailing CR when one has arrived.
    private var lineLength = 0
    private var lastWasCR = false
    private var headBytes = 0
    private var leadingEmptyLines = 0
    /// Field lines seen so far; final once the head is complete.
    private(set) var fieldCount = 0

    /// True once a byte of a start line has arrived (skipped empty lines do not count).
    var hasStarted: Bool { phase != .preamble }

    /// Scans `input[start...]` for the end of the head. `startLineTooLong` is the error kind for a start line over
    /// `limits.maxRequestLineBytes` (414 for requests; responses use 431).
    mutating func scan(
        _ input: UnsafeRawBufferPointer, from start: Int, limits: HTTPLimits, startLineTooLong: HTTPParseError.Kind
    ) throws(HTTPParseError) -> Progress {
        let end = input.count
        var index = start
        if phase == .preamble {
            index = try skipLeadingEmptyLines(input, from: start)
            if phase == .preamble { return .needMore }
        }
        let headStart = index
        while index < end {
            let lf = ByteSearch.firstIndex(of: ASCII.lf, in: input, from: index, to: end)
            let segment = lf &- index
            if segment > 0 {
                lineLength &+= segment
                headBytes &+= segment
                lastWasCR = input[lf &- 1] == ASCII.cr
            }
            if lf == end {
                try checkPartialLine(limits: limits, startLineTooLong: startLineTooLong)
                buffer.append(contentsOf: UnsafeRawBufferPointer(rebasing: input[headStart..<end]))
                return .needMore
            }
            // The limits apply to the bytes before this LF first, exactly as they would have had the input been cut
            // just before it: the verdict on a head must not depend on how its bytes arrived.
            try checkPartialLine(limits: limits, startLineTooLong: startLineTooLong)
            headBytes &+= 1
            guard lastWasCR else { throw .bad("bare LF as a line ending") }
            let contentLength = lineLength &- 1
            if phase == .startLine {
                if contentLength > limits.maxRequestLineBytes {
                    throw HTTPParseError(startLineTooLong, "start line too long")
                }
                phase = .fields
            } else if contentLength == 0 {
                if headBytes > limits.maxHeaderBytes { throw HTTPParseError(.headersTooLarge, "head too large") }
                return .complete(headStart: headStart, headEnd: lf &+ 1)
            } else {
                fieldCount &+= 1
                if fieldCount > limits.maxHeaderCount {
                    throw HTTPParseError(.headersTooLarge, "too many header fields")
                }
            }
            if headBytes > limits.maxHeaderBytes { throw HTTPParseError(.headersTooLarge, "head too large") }
            lineLength = 0
            lastWasCR = false
            index = lf &+ 1
        }
        buffer.append(contentsOf: UnsafeRawBufferPointer(rebasing: input[headStart..<end]))
        return .needMore
    }

    /// Calls `body` with the whole head that `scan` just reported complete: straight from `input` when no earlier
    /// part was buffered, otherwise from the buffer after appending the rest.
    mutating func withCompleteHead<Value>(
        _ input: UnsafeRawBufferPointer, headStart: Int, headEnd: Int,
        _ body: (UnsafeRawBufferPointer) throws(HTTPParseError) -> Value
    ) throws(HTTPParseError) -> Value {
        let tail = UnsafeRawBufferPointer(rebasing: input[headStart..<headEnd])
        if buffer.isEmpty { return try body(tail) }
        buffer.append(contentsOf: tail)
        // Array.withUnsafeBytes only rethrows untyped errors, so the typed error crosses it inside a Result.
        let outcome = buffer.withUnsafeBytes { head in
            Result { () throws(HTTPParseError) -> Value in try body(head) }
        }
        return try outcome.get()
    }

    /// Forgets everything about the current head, keeping a modest buffer capacity for the next one.
    mutating func reset() {
        phase = .preamble
        buffer.removeAll(keepingCapacity: buffer.capacity <= Self.retainedCapacity)
        lineLength = 0
        lastWasCR = false
        headBytes = 0
        leadingEmptyLines = 0
        fieldCount = 0
    }

    /// Consumes CRLF pairs until the first byte of a start line, which it leaves unread (and sets the phase).
    private mutating func skipLeadingEmptyLines(
        _ input: UnsafeRawBufferPointer, from start: Int
    ) throws(HTTPParseError) -> Int {
        var index = start
        while index < input.count {
            let byte = input[index]
            if lastWasCR {
                guard byte == ASCII.lf else { throw .bad("bare CR before the start line") }
                lastWasCR = false
                leadingEmptyLines &+= 1
                if leadingEmptyLines > Self.maxLeadingEmptyLines {
                    throw .bad("too many empty lines before the start line")
                }
            } else if byte == ASCII.cr {
                lastWasCR = true
            } else if byte == ASCII.lf {
                throw .bad("bare LF as a line ending")
            } else {
                phase = .startLine
                return index
            }
            index &+= 1
        }
        return index
    }

    /// Applies the limits to a line whose end has not arrived yet, so an endless line fails early.
    private func checkPartialLine(limits: HTTPLimits, startLineTooLong: HTTPParseError.Kind) throws(HTTPParseError) {
        if phase == .startLine && lineLength &- (lastWasCR ? 1 : 0) > limits.maxRequestLineBytes {
            throw HTTPParseError(startLineTooLong, "start line too long")
        }
        if headBytes > limits.maxHeaderBytes { throw HTTPParseError(.headersTooLarge, "head too large") }
    }
}
