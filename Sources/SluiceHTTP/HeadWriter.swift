/// Writes a message head into memory reserved for it beforehand (`bytes(bound:_:)`): each piece is
/// one bounds check and one copy, where an `Array.append(contentsOf:)` cost about a hundred
/// instructions a piece, and a head has twenty or so pieces.
///
/// The caller states an upper bound of the bytes it will write (the `writeBound`s of what it writes,
/// summed). A bound that falls short (a caller's mistake; a head's bytes come from strangers) never
/// writes past the memory, and never stops the process: the writes past it are counted, not made,
/// and `bytes` and `withBytes` write the head again with room for all of it.
public struct HeadWriter {
    private let base: UnsafeMutablePointer<UInt8>
    private let capacity: Int
    /// Bytes written so far.
    public private(set) var count = 0
    /// Bytes the writes asked for, made or not: `count` while they fit; past `capacity` once one did
    /// not, and from then on nothing more is written.
    private var needed = 0

    private init(_ buffer: UnsafeMutableBufferPointer<UInt8>) {
        // A zero capacity may come with a nil base: the bound check then refuses every write.
        base = buffer.baseAddress ?? UnsafeMutablePointer(bitPattern: 1)!
        capacity = buffer.count
    }

    /// The bytes `body` writes, in one allocation of `bound` bytes when they fit (else written again
    /// with room for them all).
    public static func bytes(bound: Int, _ body: (inout HeadWriter) -> Void) -> [UInt8] {
        var needed = 0
        let made = [UInt8](unsafeUninitializedCapacity: bound) { buffer, initialized in
            var writer = HeadWriter(buffer)
            body(&writer)
            needed = writer.needed
            initialized = writer.fits ? writer.count : 0
        }
        if needed <= bound { return made }
        return bytesWrittenAgain(needed, body)
    }

    /// Calls `use` with the bytes `body` writes, in memory that lives only during the call (on the
    /// stack for a usual head, `bound` bytes; written again with room for them all when they do not
    /// fit): for a head that is copied on at once, into a socket's buffer, with no allocation of
    /// its own. `body` must write the same bytes each time it is called.
    public static func withBytes<Result>(
        bound: Int, _ body: (inout HeadWriter) -> Void, _ use: (UnsafeRawBufferPointer) -> Result
    ) -> Result {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: bound) { buffer in
            var writer = HeadWriter(buffer)
            body(&writer)
            guard writer.fits else { return bytesWrittenAgain(writer.needed, body).withUnsafeBytes { use($0) } }
            return use(UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: buffer[..<writer.count])))
        }
    }

    /// The second writing of a head whose bound fell short, into room for all `needed` bytes. Out of
    /// line: the usual writing stays small enough to inline, and this one is never reached when the
    /// bounds are right.
    @inline(never)
    private static func bytesWrittenAgain(_ needed: Int, _ body: (inout HeadWriter) -> Void) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: needed) { buffer, initialized in
            var writer = HeadWriter(buffer)
            body(&writer)
            initialized = writer.count
        }
    }

    /// Every write so far was made: the bound was not short.
    private var fits: Bool { needed <= capacity }

    /// Counts `n` more bytes asked for; true when they fit and are to be written at `count`.
    @inline(__always)
    private mutating func room(for n: Int) -> Bool {
        needed &+= n
        return needed <= capacity
    }

    /// Appends to `buffer` the bytes `body` writes, at most `bound` of them.
    public static func append(to buffer: inout [UInt8], bound: Int, _ body: (inout HeadWriter) -> Void) {
        if buffer.isEmpty {
            buffer = bytes(bound: bound, body)
        } else {
            buffer.append(contentsOf: bytes(bound: bound, body))
        }
    }

    /// The most bytes `appendField` writes for a field called `name` with the value `value`.
    public static func fieldBound(_ name: String, _ value: String) -> Int { name.utf8.count &+ value.utf8.count &+ 4 }

    /// Appends `name: value\r\n` as `HTTPHeaders.write(into:)` writes a field added with `add`:
    /// skipped when `name` is not a token, with CR, LF and NUL in `value` written as SP.
    public mutating func appendField(_ name: String, _ value: String) {
        var name = name, value = value
        name.withUTF8 { nameBytes in
            value.withUTF8 { valueBytes in
                HeaderFieldWriter.write(name: UnsafeRawBufferPointer(nameBytes), value: UnsafeRawBufferPointer(valueBytes),
                                        into: &self)
            }
        }
    }

    /// `appendField(_:_:)` for a name the caller wrote as a literal token (`"x-request-id"`): its
    /// bytes are not checked again on every request, only the value's (CR, LF and NUL written as SP).
    public mutating func appendField(known name: StaticString, _ value: String) {
        let nameBytes = UnsafeRawBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount)
        assert(!nameBytes.isEmpty && nameBytes.allSatisfy(ASCII.isTokenChar), "\(name) is not a field name")
        var value = value
        value.withUTF8 { valueBytes in
            let value = UnsafeRawBufferPointer(valueBytes)
            if HeaderFieldWriter.breaksLine(value) {
                HeaderFieldWriter.writeSanitizing(name: nameBytes, value: value, into: &self)
            } else {
                appendLine(name: nameBytes, value: value)
            }
        }
    }

    /// `appendField(known:_:)` for a value given as bytes (a field's value as it lies in a head),
    /// written as its String form would be: as they are when ASCII, with invalid UTF-8 repaired otherwise.
    public mutating func appendField(known name: StaticString, bytes value: UnsafeRawBufferPointer) {
        guard value.allSatisfy({ $0 < 0x80 }) else {
            return appendField(known: name, String(decoding: value, as: UTF8.self))
        }
        let nameBytes = UnsafeRawBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount)
        if HeaderFieldWriter.breaksLine(value) {
            HeaderFieldWriter.writeSanitizing(name: nameBytes, value: value, into: &self)
        } else {
            appendLine(name: nameBytes, value: value)
        }
    }

    /// `appendField(known:_:)` with `value` written in decimal, with no String made of it.
    public mutating func appendField(known name: StaticString, decimal value: Int) {
        withUnsafeTemporaryAllocation(byteCount: 20, alignment: 1) { digits in
            var magnitude = value.magnitude
            var start = 20
            repeat {
                start &-= 1
                digits[start] = ASCII.zero &+ UInt8(truncatingIfNeeded: magnitude % 10)
                magnitude /= 10
            } while magnitude > 0
            append(UnsafeRawBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount))
            append(ASCII.colon, ASCII.space)
            if value < 0 { append(UInt8(ascii: "-")) }
            append(UnsafeRawBufferPointer(rebasing: digits[start...]))
            append(ASCII.cr, ASCII.lf)
        }
    }

    /// Appends `bytes` as they are.
    @inline(__always)
    public mutating func append(_ bytes: UnsafeRawBufferPointer) {
        let n = bytes.count
        guard room(for: n) else { return }
        if n > 0 { UnsafeMutableRawPointer(base + count).copyMemory(from: bytes.baseAddress!, byteCount: n) }
        count &+= n
    }

    @inline(__always)
    public mutating func append(_ byte: UInt8) {
        guard room(for: 1) else { return }
        base[count] = byte
        count &+= 1
    }

    /// Appends the two bytes `first`, `second` (a CRLF, a ": ").
    @inline(__always)
    mutating func append(_ first: UInt8, _ second: UInt8) {
        guard room(for: 2) else { return }
        base[count] = first
        base[count &+ 1] = second
        count &+= 2
    }

    /// Appends `text`'s UTF-8 as it is.
    @inline(__always)
    mutating func append(_ text: String) {
        var text = text
        text.withUTF8 { append(UnsafeRawBufferPointer($0)) }
    }

    /// Appends `bytes` with each byte `replaced` answers true for written as `byte`.
    mutating func append(_ bytes: UnsafeRawBufferPointer, replacing replaced: (UInt8) -> Bool, with byte: UInt8) {
        guard room(for: bytes.count) else { return }
        for (i, b) in bytes.enumerated() { base[count &+ i] = replaced(b) ? byte : b }
        count &+= bytes.count
    }

    /// Appends the CRLF that ends a head.
    public mutating func appendEmptyLine() { append(ASCII.cr, ASCII.lf) }

    /// Appends `name: value` and CRLF as they are (the caller checked both), with one bounds check.
    @inline(__always)
    mutating func appendLine(name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) {
        let length = name.count &+ value.count &+ 4
        guard room(for: length) else { return }
        let line = UnsafeMutableRawPointer(base + count)
        if !name.isEmpty { line.copyMemory(from: name.baseAddress!, byteCount: name.count) }
        line.storeBytes(of: ASCII.colon, toByteOffset: name.count, as: UInt8.self)
        line.storeBytes(of: ASCII.space, toByteOffset: name.count &+ 1, as: UInt8.self)
        if !value.isEmpty { (line + (name.count &+ 2)).copyMemory(from: value.baseAddress!, byteCount: value.count) }
        line.storeBytes(of: ASCII.cr, toByteOffset: length &- 2, as: UInt8.self)
        line.storeBytes(of: ASCII.lf, toByteOffset: length &- 1, as: UInt8.self)
        count &+= length
    }
}
