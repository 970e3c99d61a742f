/// An ordered list of header fields. Lookups compare names case-insensitively (ASCII only); the original spelling and
/// order of every field are preserved, so a head forwards exactly as it arrived unless someone edits it.
///
/// Fields are kept as raw bytes with an index, not as Strings: a proxy looks at a few fields and forwards the rest, so
/// Strings are only made for what is asked for, and writing a parsed field is a copy. A value may hold obs-text
/// (bytes >= 0x80, RFC 9110 section 5.5); it is forwarded unchanged, and only its String form repairs invalid UTF-8.
///
/// When a head is written, fields whose name is not a token are skipped and CR, LF and NUL in values become spaces,
/// so a careless edit cannot split a message (see `write(into:)`). Removed fields leave their bytes behind; once those
/// outweigh the live ones, the storage is rebuilt, so repeated edits cannot grow it without bound.
public struct HTTPHeaders: Sendable, Sequence, ExpressibleByDictionaryLiteral {
    public typealias Element = (name: String, value: String)

    /// Where one field's name and value live in `storage`.
    private struct Field: Sendable {
        var nameStart: UInt32
        var nameLength: UInt32
        var valueStart: UInt32
        var valueLength: UInt32
        /// True for fields the parser validated (token name, clean value), which are written without re-checking.
        var isValidated: Bool
        /// The known name this field's name spells, found when it was stored: lookups by a known name compare this.
        var known: KnownFieldName?
    }

    private var storage: [UInt8]
    private var fields: [Field]

    public init() {
        storage = []
        fields = []
    }

    public init(_ pairs: [(String, String)]) {
        self.init()
        for (name, value) in pairs { add(name, value) }
    }

    public init(dictionaryLiteral elements: (String, String)...) {
        self.init(elements)
    }

    /// A list that will index validated fields inside a copy of `head` (see `appendValidated`).
    init(head: UnsafeRawBufferPointer, capacity: Int) {
        storage = Array(head)
        fields = []
        fields.reserveCapacity(capacity)
    }

    public struct Iterator: IteratorProtocol {
        private let headers: HTTPHeaders
        private var position = 0

        fileprivate init(_ headers: HTTPHeaders) { self.headers = headers }

        public mutating func next() -> Element? {
            guard position < headers.count else { return nil }
            defer { position += 1 }
            return headers[position: position]
        }
    }

    public func makeIterator() -> Iterator { Iterator(self) }

    public var underestimatedCount: Int { fields.count }

    /// The number of fields, counting repeated names separately.
    public var count: Int { fields.count }

    /// Bytes held for names and values, removed ones included (for tests of the storage bound).
    var storageByteCount: Int { storage.count }

    /// The value of the first field called `name`, or nil when there is none.
    public subscript(name: String) -> String? {
        guard let index = firstIndex(of: name) else { return nil }
        return value(of: fields[index])
    }

    /// The value of the first field called `name`, or nil when there is none (as `self[String]`,
    /// with no name compared).
    public subscript(name: KnownFieldName) -> String? {
        guard let index = firstIndex(of: name) else { return nil }
        return value(of: fields[index])
    }

    /// Calls `body` with the bytes of the first field called `name` as sent (nil when there is
    /// none): a value read without making a String of it.
    public func withFirstValue<Result>(of name: String, _ body: (UnsafeRawBufferPointer?) -> Result) -> Result {
        withFirstValue(at: firstIndex(of: name), body)
    }

    /// `withFirstValue(of:_:)` for a known name.
    public func withFirstValue<Result>(of name: KnownFieldName, _ body: (UnsafeRawBufferPointer?) -> Result) -> Result {
        withFirstValue(at: firstIndex(of: name), body)
    }

    @inline(__always)
    private func withFirstValue<Result>(at index: Int?, _ body: (UnsafeRawBufferPointer?) -> Result) -> Result {
        guard let index else { return body(nil) }
        let field = fields[index]
        return storage.withUnsafeBytes { body(Self.slice($0, field.valueStart, field.valueLength)) }
    }

    /// The field at `position` in wire order (0 ..< count).
    public subscript(position position: Int) -> Element {
        let field = fields[position]
        return (name: string(field.nameStart, field.nameLength), value: value(of: field))
    }

    /// The values of every field called `name`, in order; empty when there is none.
    public func values(_ name: String) -> [String] {
        Wanted.with(name) { values($0) }
    }

    /// `values(_:)` for a known name.
    public func values(_ name: KnownFieldName) -> [String] {
        values(Wanted.known(name))
    }

    private func values(_ name: Wanted) -> [String] {
        var result: [String] = []
        forEachField(named: name) { field, _ in
            result.append(value(of: field))
            return true
        }
        return result
    }

    public func contains(_ name: String) -> Bool { firstIndex(of: name) != nil }

    public func contains(_ name: KnownFieldName) -> Bool { firstIndex(of: name) != nil }

    /// The value of the first field called `name` read as a decimal integer, as `Int(value)` reads
    /// it (an optional sign, then ASCII digits only), with no String made; nil when there is no
    /// such field or its value is not such a number.
    public func integerValue(_ name: String) -> Int? {
        integerValue(at: firstIndex(of: name))
    }

    /// `integerValue(_:)` for a known name.
    public func integerValue(_ name: KnownFieldName) -> Int? {
        integerValue(at: firstIndex(of: name))
    }

    private func integerValue(at index: Int?) -> Int? {
        guard let index else { return nil }
        let field = fields[index]
        return storage.withUnsafeBytes { bytes in Self.decimal(Self.slice(bytes, field.valueStart, field.valueLength)) }
    }

    private static func decimal(_ bytes: UnsafeRawBufferPointer) -> Int? {
        var digits = bytes[...]
        let negative = digits.first == UInt8(ascii: "-")
        if negative || digits.first == UInt8(ascii: "+") { digits = digits.dropFirst() }
        guard !digits.isEmpty else { return nil }
        var value = 0
        // Eighteen digits cannot overflow: the usual length is read without the checks.
        if digits.count <= 18 {
            for byte in digits {
                guard ASCII.isDigit(byte) else { return nil }
                value = value &* 10 &+ Int(byte &- ASCII.zero)
            }
            return negative ? -value : value
        }
        for byte in digits {
            guard ASCII.isDigit(byte) else { return nil }
            let (scaled, overflow) = value.multipliedReportingOverflow(by: 10)
            let (next, overflowAdding) = negative ? scaled.subtractingReportingOverflow(Int(byte &- ASCII.zero))
                                                  : scaled.addingReportingOverflow(Int(byte &- ASCII.zero))
            guard !overflow, !overflowAdding else { return nil }
            value = next
        }
        return value
    }

    /// Appends a field after all existing ones, keeping any others with the same name.
    public mutating func add(_ name: String, _ value: String) {
        var name = name, value = value
        name.withUTF8 { nameBytes in
            value.withUTF8 { valueBytes in
                append(name: UnsafeRawBufferPointer(nameBytes), value: UnsafeRawBufferPointer(valueBytes))
            }
        }
    }

    /// Stores a field as the line `write(into:)` would make of it, `name: value` and CRLF, so that a
    /// head is written in a few bulk copies. A field whose name is not a token, or whose value holds
    /// CR, LF or NUL, is stored as it is and checked again when it is written.
    private mutating func append(name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) {
        let nameStart = storage.count
        let valueStart = nameStart + name.count + 2
        HeaderFieldWriter.appendLine(name: name, value: value, into: &storage)
        precondition(storage.count <= Int(UInt32.max), "header storage beyond 4 GiB")
        let clean = !name.isEmpty && name.allSatisfy(ASCII.isTokenChar) && !HeaderFieldWriter.breaksLine(value)
        fields.append(Field(
            nameStart: UInt32(truncatingIfNeeded: nameStart), nameLength: UInt32(truncatingIfNeeded: name.count),
            valueStart: UInt32(truncatingIfNeeded: valueStart), valueLength: UInt32(truncatingIfNeeded: value.count),
            isValidated: clean, known: KnownFieldName(name)))
    }

    /// Makes room for `count` more fields holding about `bytes` bytes in all, before a series of
    /// `add`s: one allocation each for the fields and their bytes (a copy of a head shares both with
    /// the original until the first edit) instead of a copy and then growth.
    public mutating func reserveCapacity(addingFields count: Int, bytes: Int) {
        storage.reserveCapacity(storage.count + bytes + 4 * count)
        fields.reserveCapacity(fields.count + count)
    }

    /// Replaces every field called `name` with a single one, appended at the end.
    public mutating func set(_ name: String, _ value: String) {
        remove(name)
        add(name, value)
    }

    /// Removes every field called `name`; does nothing when there is none.
    public mutating func remove(_ name: String) {
        Wanted.with(name) { remove($0) }
    }

    /// `remove(_:)` for a known name.
    public mutating func remove(_ name: KnownFieldName) {
        remove(Wanted.known(name))
    }

    private mutating func remove(_ wanted: Wanted) {
        // Most removals find nothing (hop-by-hop fields, `expect`): answered by a read, without
        // `removeAll`, which would make `fields` unique (a copy, when the head was copied) to change nothing.
        guard firstIndex(of: wanted) != nil else {
            if fields.isEmpty && !storage.isEmpty { storage.removeAll(keepingCapacity: true) }
            return
        }
        // A local reference to the bytes lets `fields` be edited while they are read.
        let storage = self.storage
        storage.withUnsafeBytes { bytes in
            fields.removeAll { wanted.matches($0, in: bytes) }
        }
        droppedFields()
    }

    /// After fields were removed: no bytes kept for an empty list, and the storage rebuilt once
    /// removed bytes make up most of it.
    private mutating func droppedFields() {
        if fields.isEmpty {
            storage.removeAll(keepingCapacity: true)
        } else if storage.count > 4096 {
            compactIfMostlyGarbage()
        }
    }

    /// Removes every field called one of `names` (each compared as `remove(_:)` compares).
    public mutating func remove(anyOf names: [String]) {
        remove(anyOf: HTTPFieldNameSet(names))
    }

    /// Removes every field called one of `names`, in one pass over the fields; the usual case, none
    /// of them present, changes nothing.
    public mutating func remove(anyOf names: HTTPFieldNameSet) {
        // A local reference to the bytes lets `fields` be edited while they are read.
        let storage = self.storage
        let removed = storage.withUnsafeBytes { bytes in
            guard let first = fields.firstIndex(where: { names.contains(Self.name(of: $0, in: bytes)) }) else {
                return false
            }
            var kept = Array(fields[..<first])
            // Fields removed are often replaced (`set`, a proxy's own fields): room for a few.
            kept.reserveCapacity(fields.count + 8)
            for field in fields[(first + 1)...] where !names.contains(Self.name(of: field, in: bytes)) {
                kept.append(field)
            }
            fields = kept
            return true
        }
        guard removed else {
            // As `remove` leaves an empty list: no bytes kept.
            if fields.isEmpty && !storage.isEmpty { self.storage.removeAll(keepingCapacity: true) }
            return
        }
        droppedFields()
    }

    /// Removes every field whose name contains `byte` (an ASCII byte such as `_`); returns how many went.
    @discardableResult
    public mutating func removeFields(whoseNameContains byte: UInt8) -> Int {
        let storage = self.storage
        let before = fields.count
        let any = storage.withUnsafeBytes { bytes in
            fields.contains { Self.slice(bytes, $0.nameStart, $0.nameLength).contains(byte) }
        }
        guard any else {
            if fields.isEmpty && !self.storage.isEmpty { self.storage.removeAll(keepingCapacity: true) }
            return 0
        }
        storage.withUnsafeBytes { bytes in
            fields.removeAll { field in
                let name = UnsafeRawBufferPointer(rebasing: bytes[Int(field.nameStart)..<Int(field.nameStart + field.nameLength)])
                return name.contains(byte)
            }
        }
        if fields.isEmpty { self.storage.removeAll(keepingCapacity: true) }
        return before - fields.count
    }

    /// True when any comma-separated element of any `name` field equals `token`, case-insensitively
    /// (e.g. `containsToken("close", in: "Connection")` for "Connection: keep-alive, Close").
    public func containsToken(_ token: String, in name: String) -> Bool {
        Wanted.with(name) { containsToken(token, in: $0) }
    }

    /// `containsToken(_:in:)` for a known name.
    public func containsToken(_ token: String, in name: KnownFieldName) -> Bool {
        // Most heads have no such field: answered before the token is looked at.
        firstIndex(of: name) != nil && containsToken(token, in: Wanted.known(name))
    }

    private func containsToken(_ token: String, in name: Wanted) -> Bool {
        var token = token
        return token.withUTF8 { tokenBytes in
            let wanted = UnsafeRawBufferPointer(tokenBytes)
            var found = false
            forEachField(named: name) { field, bytes in
                let value = Self.slice(bytes, field.valueStart, field.valueLength)
                HTTPListSyntax.forEachElement(in: value) { element in
                    found = ASCIICaseInsensitive.equals(element, wanted)
                    return !found
                }
                return !found
            }
            return found
        }
    }

    /// Appends `name: value\r\n` for every field, in order. A name that is not an RFC 9110 token is skipped, and CR,
    /// LF and NUL in a value are written as SP: the head's framing must not be changeable through a field's content.
    public func write(into buffer: inout [UInt8]) {
        HeadWriter.append(to: &buffer, bound: writeBound) { write(into: &$0) }
    }

    /// `write(into:)` leaving out every field whose name (its bytes as sent, and the known name
    /// they spell) `skip` answers true for: the head as it would be written after removing those
    /// fields, without editing a copy.
    public func write(into buffer: inout [UInt8], skipping skip: (HTTPFieldNameView) -> Bool) {
        HeadWriter.append(to: &buffer, bound: writeBound) { write(into: &$0, skipping: skip) }
    }

    /// The most bytes `write(into:)` writes: a field is written as its name, its value and four
    /// bytes at most, and the names and values of distinct fields lie apart in the storage.
    public var writeBound: Int { storage.count &+ 4 &* fields.count }

    /// `write(into:)` into `writer`, which must have room for `writeBound`.
    public func write(into writer: inout HeadWriter) {
        writeFields(into: &writer) { _ in false }
    }

    /// `write(into:skipping:)` into `writer`, which must have room for `writeBound`.
    public func write(into writer: inout HeadWriter, skipping skip: (HTTPFieldNameView) -> Bool) {
        writeFields(into: &writer, skipping: skip)
    }

    @inline(__always)
    private func writeFields(into writer: inout HeadWriter, skipping skip: (HTTPFieldNameView) -> Bool) {
        storage.withUnsafeBytes { bytes in
            // Checked fields already stored as their own line (parsed ones that arrived as `name: value`,
            // added ones) are copied as they lie, consecutive ones in one copy: a parsed head that was
            // not edited is one copy.
            var run = 0..<0
            for field in fields {
                let name = Self.slice(bytes, field.nameStart, field.nameLength)
                if skip(HTTPFieldNameView(bytes: name, known: field.known)) { continue }
                if field.isValidated, let line = Self.line(of: field, in: bytes) {
                    if line.lowerBound == run.upperBound, !run.isEmpty {
                        run = run.lowerBound..<line.upperBound
                    } else {
                        if !run.isEmpty { writer.append(UnsafeRawBufferPointer(rebasing: bytes[run])) }
                        run = line
                    }
                    continue
                }
                if !run.isEmpty {
                    writer.append(UnsafeRawBufferPointer(rebasing: bytes[run]))
                    run = 0..<0
                }
                let value = Self.slice(bytes, field.valueStart, field.valueLength)
                if field.isValidated {
                    writer.appendLine(name: name, value: value)
                } else {
                    HeaderFieldWriter.write(name: name, value: value, into: &writer)
                }
            }
            if !run.isEmpty { writer.append(UnsafeRawBufferPointer(rebasing: bytes[run])) }
        }
    }

    /// The bytes `name: value\r\n` of `field` when its storage holds exactly that line, else nil (a
    /// parsed field written `name:value` or with spaces around its value, a value replaced by `collapse`).
    @inline(__always)
    private static func line(of field: Field, in bytes: UnsafeRawBufferPointer) -> Range<Int>? {
        let nameEnd = Int(field.nameStart) &+ Int(field.nameLength)
        let valueEnd = Int(field.valueStart) &+ Int(field.valueLength)
        guard Int(field.valueStart) == nameEnd &+ 2, valueEnd &+ 2 <= bytes.count,
              bytes[nameEnd] == ASCII.colon, bytes[nameEnd &+ 1] == ASCII.space,
              bytes[valueEnd] == ASCII.cr, bytes[valueEnd &+ 1] == ASCII.lf else { return nil }
        return Int(field.nameStart)..<(valueEnd &+ 2)
    }

    /// Indexes a field the parser has validated; `name` and `value` are offsets into the head given to `init(head:)`,
    /// and `known` the known name the name spells (`KnownFieldName(_:)` of its bytes).
    mutating func appendValidated(name: Range<Int>, value: Range<Int>, known: KnownFieldName?) {
        fields.append(Field(
            nameStart: UInt32(truncatingIfNeeded: name.lowerBound),
            nameLength: UInt32(truncatingIfNeeded: name.count),
            valueStart: UInt32(truncatingIfNeeded: value.lowerBound),
            valueLength: UInt32(truncatingIfNeeded: value.count),
            isValidated: true, known: known))
    }

    /// Replaces every field called `name` with one carrying `value`, at the position of the first of them.
    /// Used to forward repeated identical Content-Length fields as a single one.
    mutating func collapse(_ name: String, to value: String) {
        guard let first = firstIndex(of: name) else { return }
        let valueStart = append(value)
        fields[first].valueStart = valueStart
        fields[first].valueLength = UInt32(value.utf8.count)
        var index = fields.count - 1
        while index > first {
            let field = fields[index]
            let isSameName = storage.withUnsafeBytes { bytes in
                ASCIICaseInsensitive.equals(
                    Self.slice(bytes, field.nameStart, field.nameLength),
                    Self.slice(bytes, fields[first].nameStart, fields[first].nameLength))
            }
            if isSameName { fields.remove(at: index) }
            index -= 1
        }
    }

    /// Rebuilds the storage with only the live fields, each as its line (`name: value\r\n`), when removed
    /// ones make up most of it.
    private mutating func compactIfMostlyGarbage() {
        let live = fields.reduce(0) { $0 + Int($1.nameLength) + Int($1.valueLength) + 4 }
        guard storage.count > 2 * live else { return }
        var compacted: [UInt8] = []
        compacted.reserveCapacity(live)
        storage.withUnsafeBytes { bytes in
            for index in fields.indices {
                let field = fields[index]
                fields[index].nameStart = UInt32(truncatingIfNeeded: compacted.count)
                compacted.append(contentsOf: Self.slice(bytes, field.nameStart, field.nameLength))
                compacted.append(ASCII.colon)
                compacted.append(ASCII.space)
                fields[index].valueStart = UInt32(truncatingIfNeeded: compacted.count)
                compacted.append(contentsOf: Self.slice(bytes, field.valueStart, field.valueLength))
                compacted.append(ASCII.cr)
                compacted.append(ASCII.lf)
            }
        }
        storage = compacted
    }

    /// Calls `body` with every field called `name` and the storage bytes, in order, until it returns false.
    private func forEachField(named name: String, _ body: (Field, UnsafeRawBufferPointer) -> Bool) {
        Wanted.with(name) { forEachField(named: $0, body) }
    }

    private func forEachField(named wanted: Wanted, _ body: (Field, UnsafeRawBufferPointer) -> Bool) {
        storage.withUnsafeBytes { bytes in
            for field in fields where wanted.matches(field, in: bytes) {
                if !body(field, bytes) { return }
            }
        }
    }

    private func firstIndex(of name: String) -> Int? {
        Wanted.with(name) { firstIndex(of: $0) }
    }

    private func firstIndex(of wanted: Wanted) -> Int? {
        if case .known(let known) = wanted { return firstIndex(of: known) }
        return storage.withUnsafeBytes { bytes in fields.firstIndex { wanted.matches($0, in: bytes) } }
    }

    private func firstIndex(of known: KnownFieldName) -> Int? {
        fields.withUnsafeBufferPointer { fields in
            for index in fields.indices where fields[index].known == known { return index }
            return nil
        }
    }

    /// A name looked for: a known one compares the id each field got when it was stored; any other, the bytes.
    private enum Wanted {
        case known(KnownFieldName)
        case bytes(UnsafeRawBufferPointer)

        /// Calls `body` with `name` as looked for; the bytes are valid only inside it.
        @inline(__always)
        static func with<Result>(_ name: String, _ body: (Wanted) -> Result) -> Result {
            var name = name
            return name.withUTF8 { utf8 in
                let bytes = UnsafeRawBufferPointer(utf8)
                if let known = KnownFieldName(bytes) { return body(.known(known)) }
                return body(.bytes(bytes))
            }
        }

        @inline(__always)
        func matches(_ field: Field, in storage: UnsafeRawBufferPointer) -> Bool {
            switch self {
            case .known(let known):
                return field.known == known
            case .bytes(let wanted):
                // Most fields differ in length from the wanted name, which settles it without touching their bytes.
                return Int(field.nameLength) == wanted.count
                    && ASCIICaseInsensitive.equals(HTTPHeaders.slice(storage, field.nameStart, field.nameLength), wanted)
            }
        }
    }

    @inline(__always)
    private static func name(of field: Field, in bytes: UnsafeRawBufferPointer) -> HTTPFieldNameView {
        HTTPFieldNameView(bytes: slice(bytes, field.nameStart, field.nameLength), known: field.known)
    }

    @inline(__always)
    private static func slice(
        _ bytes: UnsafeRawBufferPointer, _ start: UInt32, _ length: UInt32
    ) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: bytes[Int(start)..<Int(start &+ length)])
    }

    private func string(_ start: UInt32, _ length: UInt32) -> String {
        storage.withUnsafeBytes { String(decoding: Self.slice($0, start, length), as: UTF8.self) }
    }

    private func value(of field: Field) -> String { string(field.valueStart, field.valueLength) }

    /// Copies `text` to the end of the storage and returns where it starts.
    private mutating func append(_ text: String) -> UInt32 {
        let start = storage.count
        // From the contiguous UTF-8 when there is one: appending the `utf8` view element by element
        // cost several hundred instructions per field added.
        var text = text
        text.withUTF8 { storage.append(contentsOf: $0) }
        precondition(storage.count <= Int(UInt32.max), "header storage beyond 4 GiB")
        return UInt32(truncatingIfNeeded: start)
    }
}

extension HTTPHeaders: Equatable {
    /// Equal when both lists hold the same names (exact spelling) and values in the same order.
    public static func == (lhs: HTTPHeaders, rhs: HTTPHeaders) -> Bool {
        guard lhs.fields.count == rhs.fields.count else { return false }
        for index in lhs.fields.indices {
            let a = lhs.fields[index], b = rhs.fields[index]
            guard lhs.bytes(a.nameStart, a.nameLength) == rhs.bytes(b.nameStart, b.nameLength),
                  lhs.bytes(a.valueStart, a.valueLength) == rhs.bytes(b.valueStart, b.valueLength)
            else { return false }
        }
        return true
    }

    private func bytes(_ start: UInt32, _ length: UInt32) -> ArraySlice<UInt8> {
        storage[Int(start)..<Int(start + length)]
    }
}

extension HTTPHeaders: CustomStringConvertible {
    public var description: String {
        "[" + map { "\($0.name): \($0.value)" }.joined(separator: ", ") + "]"
    }
}
