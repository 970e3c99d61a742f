/// A strict, incremental RESP2 parser. Pure: no I/O, no clock.
///
/// Feed it bytes as they arrive (`append`), then take whole values with `next()` until it answers
/// nil (more bytes needed). A value split anywhere across reads comes out the same as in one read.
/// After a thrown `RESPParseError` the parser stays failed: the connection must be dropped.
///
/// Strict means: every line ends in CR LF; integers and lengths are plain decimals (an optional
/// `-`, no `+`, no leading zeros, no spaces) that fit 64 bits; lengths are -1 (null) or more;
/// bulk strings end in CR LF exactly after their length; sizes and nesting are bounded so a
/// broken or hostile server cannot make the proxy allocate without limit.
public struct RESPParser: Sendable {
    /// Bounds on what one value may hold.
    public struct Limits: Sendable {
        /// Longest bulk string, in bytes.
        public var maxBulkLength: Int64 = 16 * 1024 * 1024
        /// Most elements in one array.
        public var maxArrayLength: Int64 = 1_048_576
        /// Deepest nesting of arrays.
        public var maxDepth = 16
        /// Longest status, error or integer line, CR LF excluded.
        public var maxLineLength = 65_536
        public init() {}
    }

    public let limits: Limits
    private var buffer: [UInt8] = []
    /// Where the next value starts in `buffer`.
    private var start = 0
    private var failure: RESPParseError?

    public init(limits: Limits = Limits()) { self.limits = limits }

    /// Bytes received and not yet taken as values.
    public var bufferedCount: Int { buffer.count - start }

    /// Adds bytes read from the connection.
    public mutating func append(_ bytes: UnsafeRawBufferPointer) {
        compactIfWorthIt()
        buffer.append(contentsOf: bytes)
    }

    /// Adds bytes read from the connection.
    public mutating func append<Bytes: Sequence>(_ bytes: Bytes) where Bytes.Element == UInt8 {
        compactIfWorthIt()
        buffer.append(contentsOf: bytes)
    }

    /// The next whole value, or nil when the bytes so far end inside one. Throws on the first
    /// framing error, and again on every later call.
    public mutating func next() throws -> RESPValue? {
        if let failure { throw failure }
        do {
            guard let (value, end) = try parse(at: start, depth: 0) else { return nil }
            start = end
            if start == buffer.count {
                buffer.removeAll(keepingCapacity: buffer.capacity <= 65_536)
                start = 0
            }
            return value
        } catch let error as RESPParseError {
            failure = error
            throw error
        }
    }

    private mutating func compactIfWorthIt() {
        guard start > 0, start >= buffer.count / 2 else { return }
        buffer.removeSubrange(0..<start)
        start = 0
    }

    /// Parses one value at `index`: the value and the index after it, or nil when incomplete.
    private func parse(at index: Int, depth: Int) throws -> (RESPValue, Int)? {
        guard index < buffer.count else { return nil }
        let type = buffer[index]
        guard let (line, afterLine) = try line(from: index + 1) else { return nil }
        switch type {
        case UInt8(ascii: "+"):
            return (.simple(String(decoding: line, as: UTF8.self)), afterLine)
        case UInt8(ascii: "-"):
            return (.error(String(decoding: line, as: UTF8.self)), afterLine)
        case UInt8(ascii: ":"):
            guard let n = Self.decimal(line) else { throw RESPParseError.badInteger }
            return (.integer(n), afterLine)
        case UInt8(ascii: "$"):
            guard let length = Self.decimal(line) else { throw RESPParseError.badInteger }
            if length == -1 { return (.null, afterLine) }
            guard length >= 0 else { throw RESPParseError.negativeLength }
            guard length <= limits.maxBulkLength else { throw RESPParseError.bulkTooLong(length) }
            let end = afterLine + Int(length)
            guard end + 2 <= buffer.count else { return nil }
            guard buffer[end] == 13, buffer[end + 1] == 10 else { throw RESPParseError.badBulkTerminator }
            return (.bulk(Array(buffer[afterLine..<end])), end + 2)
        case UInt8(ascii: "*"):
            guard let count = Self.decimal(line) else { throw RESPParseError.badInteger }
            if count == -1 { return (.null, afterLine) }
            guard count >= 0 else { throw RESPParseError.negativeLength }
            guard count <= limits.maxArrayLength else { throw RESPParseError.arrayTooLong(count) }
            guard depth < limits.maxDepth else { throw RESPParseError.tooDeep }
            var elements: [RESPValue] = []
            elements.reserveCapacity(Int(min(count, 64)))
            var at = afterLine
            for _ in 0..<count {
                guard let (element, next) = try parse(at: at, depth: depth + 1) else { return nil }
                elements.append(element)
                at = next
            }
            return (.array(elements), at)
        default:
            throw RESPParseError.unknownType(type)
        }
    }

    /// The bytes of a line starting at `index` up to its CR LF, and the index after the LF; nil
    /// when the CR LF has not arrived yet.
    private func line(from index: Int) throws -> (ArraySlice<UInt8>, Int)? {
        var i = index
        let limit = min(buffer.count, index + limits.maxLineLength + 1)
        while i < limit {
            let byte = buffer[i]
            if byte == 10 { throw RESPParseError.badLineEnding }
            if byte == 13 {
                guard i + 1 < buffer.count else { return nil }
                guard buffer[i + 1] == 10 else { throw RESPParseError.badLineEnding }
                return (buffer[index..<i], i + 2)
            }
            i += 1
        }
        if buffer.count > index + limits.maxLineLength { throw RESPParseError.lineTooLong }
        return nil
    }

    /// A plain decimal: optional `-`, then digits without leading zeros (`0` itself allowed, `-0`
    /// not), within Int64. nil otherwise.
    static func decimal(_ bytes: ArraySlice<UInt8>) -> Int64? {
        var digits = bytes[...]
        let negative = digits.first == UInt8(ascii: "-")
        if negative { digits = digits.dropFirst() }
        guard let first = digits.first, (48...57).contains(first) else { return nil }
        if first == 48 && (digits.count > 1 || negative) { return nil }
        var value: Int64 = 0
        for byte in digits {
            guard (48...57).contains(byte) else { return nil }
            let digit = Int64(byte - 48)
            let (times, o1) = value.multipliedReportingOverflow(by: 10)
            let (sum, o2) = negative ? times.subtractingReportingOverflow(digit) : times.addingReportingOverflow(digit)
            guard !o1, !o2 else { return nil }
            value = sum
        }
        return value
    }
}
