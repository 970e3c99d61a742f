/// A forward-only reader over the UTF-8 bytes of one JSON text, for pulling a few fields out of
/// a small document without building a tree.
///
/// It is built for the classifier's hot path: no allocation unless a string is decoded, no
/// recursion (deeply nested input cannot exhaust the stack), and values you do not ask about are
/// skipped by scanning. Strings and skipped containers are scanned sixteen bytes at a time (SSE2
/// on x86-64), digits eight.
/// Walk objects and arrays with `beginObject()`/`nextMember(_:)` and `beginArray()`/`nextElement(_:)`:
/// with no closure in the way, a caller's loop compiles to one function whose reader stays in
/// registers. Those steps are `@inline(always)`, which is guaranteed, not `@inline(__always)`, which
/// the optimizer drops in a caller as large as the classifier's walk; and they read words through
/// `word(at:)`, not `loadUnaligned`, for the same reason. The reader borrows `bytes`: use it only
/// inside the scope that owns them (`withUTF8`, `withUnsafeBufferPointer`).
///
/// Strictness: every value the caller walks (`nextMember`, `nextElement`) is checked for
/// commas and colons, and every string and number met is checked against the JSON grammar. An
/// object or array that is skipped is checked only for bracket balance (and its strings); that
/// is enough to find where it ends, and it is why skipping is fast. Any error sets `failed`;
/// after that every call is a no-op that answers "nothing", so a caller can walk first and
/// check `failed` once.
package struct JSONByteReader {
    package let bytes: UnsafeBufferPointer<UInt8>
    /// Where the next byte to read is. A failure moves it to the end, and nothing moves it after
    /// that: so `index < bytes.count` also tells that the reader has not failed.
    package private(set) var index: Int
    package private(set) var failed = false
    /// Where to note the strings whose content the walk does not look at (see `JSONStringHoles`);
    /// nil, the default, notes nothing.
    package var holes: UnsafeMutablePointer<JSONStringHoles>?

    package init(_ bytes: UnsafeBufferPointer<UInt8>) {
        self.bytes = bytes
        self.index = 0
    }

    /// The kinds of JSON value, as told by a value's first byte.
    package enum ValueKind: Equatable {
        case object, array, string, number, bool, null
    }

    /// Skips whitespace and answers the kind of the next value without consuming it; nil at the
    /// end, at a byte no value starts with, or after a failure.
    @inline(always)
    package mutating func peekKind() -> ValueKind? {
        guard let b = peekByte() else { return nil }
        switch b {
        case JSONByte.openBrace: return .object
        case JSONByte.openBracket: return .array
        case JSONByte.quote: return .string
        case JSONByte.minus, JSONByte.zero...JSONByte.nine: return .number
        case JSONByte.t, JSONByte.f: return .bool
        case JSONByte.n: return .null
        default: return nil
        }
    }

    /// True when only whitespace is left. Use after reading the top-level value to reject
    /// trailing garbage.
    @inline(always)
    package mutating func isAtEnd() -> Bool {
        if index != bytes.count { skipWhitespace() }
        return !failed && index == bytes.count
    }

    // MARK: - Walking objects and arrays

    /// Where a walk through an object's members stands. Made by `beginObject()`, advanced by
    /// `nextMember(_:)`.
    package struct Members {
        /// Where the current member's value starts (to tell whether the caller read it); -1 before
        /// the first member.
        fileprivate var valueStart = -1
    }

    /// Where a walk through an array's elements stands. Made by `beginArray()`, advanced by
    /// `nextElement(_:)`.
    package struct Elements {
        /// Where the current element starts; -1 before the first.
        fileprivate var valueStart = -1
    }

    /// Consumes the `{` of an object and answers a walk for `nextMember(_:)`. When the next value
    /// is not an object the reader fails, and the walk's first `nextMember` answers nil.
    @inline(always)
    package mutating func beginObject() -> Members {
        _ = expect(JSONByte.openBrace)
        return Members()
    }

    /// Moves to the object's next member: skips the previous member's value if the caller left it
    /// unread, consumes the comma, the key and its colon, and answers the key with the reader at the
    /// member's value. Answers nil after consuming the closing `}`, and nil (with `failed` set) when
    /// the object is malformed.
    @inline(always)
    package mutating func nextMember(_ walk: inout Members) -> RawString? {
        let isFirst = walk.valueStart < 0
        if !isFirst, index <= walk.valueStart { skipValue() }
        if let key = nextCompactMember(isFirst: isFirst) {
            walk.valueStart = index
            return key
        }
        if !isFirst {
            let b = peekByte()
            guard b == JSONByte.comma else {
                if b == JSONByte.closeBrace { index &+= 1 } else { _ = fail() }
                return nil
            }
            index &+= 1
            guard peekByte() == JSONByte.quote else { _ = fail(); return nil }
        } else {
            let b = peekByte()
            guard b == JSONByte.quote else {
                if b == JSONByte.closeBrace { index &+= 1 } else { _ = fail() }
                return nil
            }
        }
        guard let key = scanString(), expect(JSONByte.colon) else { return nil }
        _ = peekByte()
        walk.valueStart = index
        return key
    }

    /// The common case of `nextMember(_:)`, without whitespace or bounds checks: `,"key":` (no
    /// comma before the first member) with a key of at most 31 bytes and no escape, its value
    /// right after the colon, and room to spare before the end. Answers nil, and consumes nothing,
    /// for anything else; `nextMember` then takes the general path, which would answer the same.
    @inline(always)
    private mutating func nextCompactMember(isFirst: Bool) -> RawString? {
        let i = index
        guard bytes.count &- i >= 20 else { return nil }
        let quote = isFirst ? i : i &+ 1
        guard isFirst || bytes[i] == JSONByte.comma, bytes[quote] == JSONByte.quote else { return nil }
        let head = block(at: quote &+ 1)
        var special = Self.stringSpecialBytes(head)
        var length = 0
        if special.isEmpty {
            // A longer key (`completion_tokens`), with room for a second block and what follows it.
            guard bytes.count &- i >= 36 else { return nil }
            special = Self.stringSpecialBytes(block(at: quote &+ 17))
            guard !special.isEmpty else { return nil }
            length = 16
        }
        length &+= special.first
        let close = quote &+ 1 &+ length
        guard bytes[close] == JSONByte.quote, bytes[close &+ 1] == JSONByte.colon,
              bytes[close &+ 2] > JSONByte.space else { return nil }
        index = close &+ 2
        return RawString(start: bytes.baseAddress.unsafelyUnwrapped + (quote &+ 1), count: length,
                         hasEscapes: false, head: Self.firstWord(head))
    }

    /// Consumes the `[` of an array and answers a walk for `nextElement(_:)`. When the next value
    /// is not an array the reader fails, and the walk's first `nextElement` answers false.
    @inline(always)
    package mutating func beginArray() -> Elements {
        _ = expect(JSONByte.openBracket)
        return Elements()
    }

    /// Moves to the array's next element: skips the previous element if the caller left it unread,
    /// consumes the comma, and answers true with the reader at the element. Answers false after
    /// consuming the closing `]`, and false (with `failed` set) when the array is malformed.
    @inline(always)
    package mutating func nextElement(_ walk: inout Elements) -> Bool {
        if walk.valueStart >= 0 {
            if index <= walk.valueStart { skipValue() }
            let b = peekByte()
            guard b == JSONByte.comma else {
                if b == JSONByte.closeBracket { index &+= 1 } else { _ = fail() }
                return false
            }
            index &+= 1
        } else {
            let b = peekByte()
            if b == JSONByte.closeBracket {
                index &+= 1
                return false
            }
            if b == nil { return fail() }
        }
        _ = peekByte()
        walk.valueStart = index
        return true
    }

    /// Walks an object: calls `body` once per member with its key and the reader positioned at
    /// the member's value. `body` may read the value or leave it alone; a value left unread is
    /// skipped. Answers false (and the reader has failed) when the next value is not an object
    /// or is malformed. (A convenience over `nextMember(_:)` for code off the hot path.)
    @discardableResult
    package mutating func readObject(_ body: (RawString, inout JSONByteReader) -> Void) -> Bool {
        var members = beginObject()
        while let key = nextMember(&members) {
            body(key, &self)
        }
        return !failed
    }

    /// Walks an array: calls `body` once per element with the reader positioned at it. An
    /// element left unread is skipped. Answers false when not an array or malformed. (A
    /// convenience over `nextElement(_:)` for code off the hot path.)
    @discardableResult
    package mutating func readArray(_ body: (inout JSONByteReader) -> Void) -> Bool {
        var elements = beginArray()
        while nextElement(&elements) {
            body(&self)
        }
        return !failed
    }

    // MARK: - Reading values

    /// Reads a string value without decoding it. Answers nil and skips the value when it is not
    /// a string (that is not a failure: a field of an unexpected type is simply absent).
    @inline(always)
    package mutating func readString() -> RawString? {
        guard peekByte() == JSONByte.quote else {
            skipValue()
            return nil
        }
        return scanString()
    }

    /// Reads an integer. Answers nil (and skips the value) for non-numbers, numbers with a
    /// non-zero fraction or an exponent, and integers that do not fit in `Int`.
    package mutating func readInt() -> Int? {
        // The common integer, unsigned and of at most eighteen digits (too few to overflow), is
        // added up as it is found; a sign, a fraction, an exponent or more digits take the
        // general path below.
        if let b = peekByte(), isDigit(b) {
            let start = index
            let end = b == JSONByte.zero ? start &+ 1 : endOfDigits(at: start &+ 1)
            if end &- start <= 18,
               end == bytes.count || (bytes[end] != JSONByte.dot && bytes[end] | 0x20 != JSONByte.e) {
                var value = 0
                var i = start
                while i < end {
                    value = value &* 10 &+ Int(bytes[i] &- JSONByte.zero)
                    i &+= 1
                }
                index = end
                return value
            }
        }
        guard let kind = peekKind() else { _ = fail(); return nil }
        guard kind == .number else { skipValue(); return nil }
        let start = index
        let end = endOfNumber(at: start)
        guard end >= 0 else { _ = fail(); return nil }
        index = end
        var i = start
        let negative = bytes[i] == JSONByte.minus
        if negative { i += 1 }
        var value = 0
        var overflow = false
        while i < index, case let b = bytes[i], b >= JSONByte.zero, b <= JSONByte.nine {
            let digit = Int(b &- JSONByte.zero)
            let (m, o1) = value.multipliedReportingOverflow(by: 10)
            let (s, o2) = negative ? m.subtractingReportingOverflow(digit) : m.addingReportingOverflow(digit)
            overflow = overflow || o1 || o2
            value = s
            i += 1
        }
        if i < index, bytes[i] == JSONByte.dot {
            i += 1
            while i < index, bytes[i] == JSONByte.zero { i += 1 }
        }
        // Anything left is a non-zero fraction digit or an exponent.
        return overflow || i < index ? nil : value
    }

    /// Consumes `null` and answers true, or answers false and consumes nothing.
    package mutating func readNull() -> Bool {
        guard peekKind() == .null else { return false }
        skipValue()
        return !failed
    }

    /// Answers whether the next value carries something: a non-empty string, array or object,
    /// a number, or `true`. `null`, `false`, `""`, `[]` and `{}` carry nothing. Consumes the value.
    @inline(always)
    package mutating func readHasContent() -> Bool {
        guard let b = peekByte() else { return fail() }
        if b == JSONByte.quote { return !(scanString()?.isEmpty ?? true) }
        return readHasContentOtherThanString()
    }

    /// `readHasContent()`, noting a string value as a `.presence` hole in `holes`: for a caller
    /// whose answer depends on that string only through whether it is empty.
    @inline(always)
    package mutating func readHasContentNotingPresence() -> Bool {
        guard let b = peekByte() else { return fail() }
        if b == JSONByte.quote {
            let start = index &+ 1
            guard let string = scanString() else { return false }
            holes?.pointee.note(start: start, end: index &- 1, use: .presence)
            return !string.isEmpty
        }
        return readHasContentOtherThanString()
    }

    @inline(always)
    private mutating func readHasContentOtherThanString() -> Bool {
        let (end, content) = endOfValueOtherThanString(at: index)
        guard end >= 0 else { return fail() }
        index = end
        return content
    }

    /// Skips the next value, whatever it is.
    @inline(always)
    package mutating func skipValue() {
        // Strings, plain integers and `null` inline: they are most of what a chunk skips.
        let b = peekByte()
        if b == JSONByte.quote {
            let start = index &+ 1
            if scanString() != nil { holes?.pointee.note(start: start, end: index &- 1, use: .skipped) }
            return
        }
        let end: Int
        if b == JSONByte.n {
            end = endOfWord(Self.nullWord, 4, at: index)
        } else if let b, isDigit(b) {
            end = endOfInteger(at: index)
        } else {
            end = endOfValueOtherThanString(at: index).end
        }
        if end >= 0 { index = end } else { _ = fail() }
    }

    // MARK: - Scanning
    //
    // The mutating methods above move `index`; the scanners below only answer where something ends
    // (-1 when it is malformed). They take the reader by value, so a caller's reader, inlined into
    // its loop, stays in registers across the calls instead of being written back for each.

    /// Where the value at `i`, which is not a string, ends (-1 when malformed), and whether it
    /// carries something (see `readHasContent()`).
    @inline(never)
    private func endOfValueOtherThanString(at i: Int) -> (end: Int, content: Bool) {
        guard i < bytes.count else { return (-1, false) }
        switch bytes[i] {
        case JSONByte.quote:
            let (end, _) = endOfString(from: i &+ 1, at: i &+ 1)
            return end < 0 ? (-1, false) : (end &+ 1, end > i &+ 1)
        case JSONByte.minus, JSONByte.zero...JSONByte.nine:
            return (endOfNumber(at: i), true)
        case JSONByte.n:
            return (endOfWord(Self.nullWord, 4, at: i), false)
        case JSONByte.t:
            return (endOfWord(Self.trueWord, 4, at: i), true)
        case JSONByte.f:
            return (endOfWord(Self.falseWord, 5, at: i), false)
        case JSONByte.openBrace, JSONByte.openBracket:
            let close = bytes[i] == JSONByte.openBracket ? JSONByte.closeBracket : JSONByte.closeBrace
            let inside = endOfWhitespace(at: i &+ 1)
            let empty = inside < bytes.count && bytes[inside] == close
            return (endOfContainer(at: i), !empty)
        default:
            return (-1, false)
        }
    }

    /// Where the object or array opening at `i` closes (one past its bracket); -1 when it does not.
    private func endOfContainer(at i: Int) -> Int {
        // Depth counting instead of recursion: a hostile document nested a million deep costs
        // a scan, not the stack. Only quotes and brackets matter here, so sixteen bytes at a time
        // are searched for them and everything else is passed over unread.
        var depth = 0
        var i = i
        let count = bytes.count
        while i < count {
            if count &- i >= 16 {
                let structural = Self.structuralBytes(block(at: i))
                if structural.isEmpty {
                    i &+= 16
                    continue
                }
                i &+= structural.first
            }
            switch bytes[i] {
            case JSONByte.quote:
                // Most strings here (keys, and the texts of skipped choices) have no escape: their
                // end is found inline, and only a string that needs a closer look costs a call.
                let end = endOfPlainStringBytes(at: i &+ 1)
                if end < count, bytes[end] == JSONByte.quote {
                    i = end
                } else {
                    let (end, _) = endOfString(from: i &+ 1, at: end)
                    guard end >= 0 else { return -1 }
                    i = end
                }
            case JSONByte.openBrace, JSONByte.openBracket:
                depth &+= 1
            case JSONByte.closeBrace, JSONByte.closeBracket:
                depth &-= 1
                if depth == 0 { return i &+ 1 }
            default:
                break
            }
            i &+= 1
        }
        return -1
    }

    /// Where the number at `i` ends, checking it against the JSON grammar:
    /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`; -1 when it does not match.
    @inline(never)
    private func endOfNumber(at i: Int) -> Int {
        let count = bytes.count
        var i = i
        if i < count, bytes[i] == JSONByte.minus { i &+= 1 }
        guard i < count, isDigit(bytes[i]) else { return -1 }
        if bytes[i] == JSONByte.zero {
            i &+= 1
        } else {
            i = endOfDigits(at: i &+ 1)
        }
        if i < count, bytes[i] == JSONByte.dot {
            i &+= 1
            guard i < count, isDigit(bytes[i]) else { return -1 }
            i = endOfDigits(at: i &+ 1)
        }
        if i < count, bytes[i] | 0x20 == JSONByte.e {
            i &+= 1
            if i < count, bytes[i] == JSONByte.plus || bytes[i] == JSONByte.minus { i &+= 1 }
            guard i < count, isDigit(bytes[i]) else { return -1 }
            i = endOfDigits(at: i &+ 1)
        }
        return i
    }

    /// Where the number at `i`, which starts with a digit, ends: its digits are skipped here (one
    /// `0` and no more: JSON has no leading zeros), and a fraction or an exponent sends it to
    /// `endOfNumber(at:)`.
    @inline(always)
    private func endOfInteger(at i: Int) -> Int {
        let end = bytes[i] == JSONByte.zero ? i &+ 1 : endOfDigits(at: i &+ 1)
        if end < bytes.count, case let b = bytes[end], b == JSONByte.dot || b | 0x20 == JSONByte.e {
            return endOfNumber(at: i)
        }
        return end
    }

    /// The index of the first byte at or after `i` that is not a digit (or the end).
    @inline(always)
    private func endOfDigits(at i: Int) -> Int {
        var i = i
        let count = bytes.count
        while count &- i >= 8 {
            let other = Self.nonDigitBytes(word(at: i))
            if other != 0 { return i &+ other.trailingZeroBitCount &>> 3 }
            i &+= 8
        }
        while i < count, isDigit(bytes[i]) { i &+= 1 }
        return i
    }

    @inline(always)
    private func isDigit(_ b: UInt8) -> Bool {
        b &- JSONByte.zero < 10
    }

    /// "null", "true" and "fals" as words (first byte lowest), and the "e" that ends "false".
    private static let nullWord: UInt32 = 0x6C6C_756E
    private static let trueWord: UInt32 = 0x6575_7274
    private static let falseWord: UInt32 = 0x736C_6166

    /// Where `null`, `true` or `false` at `i` ends, or -1: their first four bytes compared as one
    /// word (`length` 5 also wants the `e` of `false`), not byte by byte through a `StaticString`.
    @inline(always)
    private func endOfWord(_ word: UInt32, _ length: Int, at i: Int) -> Int {
        guard bytes.count &- i >= length else { return -1 }
        let base = bytes.baseAddress.unsafelyUnwrapped
        let bytes4 = UnsafeRawPointer(base + i).assumingMemoryBound(to: (UInt8, UInt8, UInt8, UInt8).self)
        guard unsafeBitCast(bytes4.pointee, to: UInt32.self) == word,
              length == 4 || base[i &+ 4] == JSONByte.e else { return -1 }
        return i &+ length
    }

    /// At an opening quote: consumes the string and answers its raw (still escaped) content.
    /// Checks the string is well-formed: terminated, no raw control characters, only JSON's
    /// escapes (`\u` with four hex digits). Surrogate pairing is left to `decoded()`.
    ///
    /// Inlined for the common string: no escape, its end found sixteen bytes at a time; the rest
    /// is left to `endOfString(from:at:)`.
    @inline(always)
    private mutating func scanString() -> RawString? {
        let start = index &+ 1
        let count = bytes.count
        if count &- start >= 16 {
            var i = start
            let first = block(at: i)
            var special = Self.stringSpecialBytes(first)
            while special.isEmpty, count &- (i &+ 16) >= 16 {
                i &+= 16
                special = Self.stringSpecialBytes(block(at: i))
            }
            if special.isEmpty {
                i &+= 16
            } else {
                i &+= special.first
                if bytes[i] == JSONByte.quote {
                    index = i &+ 1
                    return RawString(start: bytes.baseAddress.unsafelyUnwrapped + start, count: i &- start,
                                     hasEscapes: false, head: Self.firstWord(first))
                }
            }
            return scanString(from: start, at: i)
        }
        return scanString(from: start, at: start)
    }

    /// The rest of `scanString()`: the string started at `start`, and the bytes before `i` need
    /// no attention.
    @inline(never)
    private mutating func scanString(from start: Int, at i: Int) -> RawString? {
        let (end, escaped) = endOfString(from: start, at: i)
        guard end >= 0 else { _ = fail(); return nil }
        index = end &+ 1
        return RawString(raw: UnsafeBufferPointer(rebasing: bytes[start..<end]), hasEscapes: escaped)
    }

    /// Where the string whose content starts at `i` ends: the index of its closing quote, or -1
    /// when it is malformed or unterminated (the checks of `scanString()`). Moves nothing.
    /// Inlined for the common string, with no escape and its end found sixteen bytes at a time.
    @inline(always)
    package func endOfStringContent(at i: Int) -> Int {
        let count = bytes.count
        var j = i
        while count &- j >= 16 {
            let special = Self.stringSpecialBytes(block(at: j))
            if !special.isEmpty {
                let end = j &+ special.first
                return bytes[end] == JSONByte.quote ? end : endOfString(from: i, at: end).end
            }
            j &+= 16
        }
        return endOfString(from: i, at: j).end
    }

    /// Where the string whose content starts at `start` ends (the index of its closing quote),
    /// and whether it holds escapes; -1 when it is malformed. The bytes before `i` need no
    /// attention.
    private func endOfString(from start: Int, at i: Int) -> (end: Int, escaped: Bool) {
        let count = bytes.count
        var i = i
        var escaped = false
        while true {
            i = endOfPlainStringBytes(at: i)
            guard i < count else { return (-1, false) }
            let b = bytes[i]
            if b == JSONByte.quote { return (i, escaped) }
            // A raw control character.
            guard b == JSONByte.backslash, i &+ 1 < count else { return (-1, false) }
            escaped = true
            switch bytes[i &+ 1] {
            case JSONByte.quote, JSONByte.backslash, JSONByte.slash, JSONByte.b, JSONByte.f,
                 JSONByte.n, JSONByte.r, JSONByte.t:
                i &+= 2
            case JSONByte.u:
                guard i &+ 6 <= count else { return (-1, false) }
                for k in 2..<6 where !isHexDigit(bytes[i &+ k]) { return (-1, false) }
                i &+= 6
            default:
                return (-1, false)
            }
        }
    }

    /// The index of the first byte at or after `i` that a string scan must look at (`"`, `\`, or
    /// a control character), or the end; sixteen bytes at a time while it can.
    @inline(always)
    private func endOfPlainStringBytes(at i: Int) -> Int {
        let count = bytes.count
        var i = i
        if count &- i >= 16 {
            let special = Self.stringSpecialBytes(block(at: i))
            if !special.isEmpty { return i &+ special.first }
            i &+= 16
            // Most strings end in their first block. A longer one (a completion's text) is then
            // scanned two blocks a step, with one test for both.
            while count &- i >= 32 {
                let first = Self.stringSpecialMask(block(at: i))
                let second = Self.stringSpecialMask(block(at: i &+ 16))
                if !BlockFlags(first .| second).isEmpty {
                    let special = BlockFlags(first)
                    return special.isEmpty ? i &+ 16 &+ BlockFlags(second).first : i &+ special.first
                }
                i &+= 32
            }
            if count &- i >= 16 {
                let special = Self.stringSpecialBytes(block(at: i))
                if !special.isEmpty { return i &+ special.first }
                i &+= 16
            }
        }
        guard i < count else { return i }
        if count >= 16 {
            // The last block, which overlaps bytes already passed: they are not looked at again.
            let last = count &- 16
            let special = Self.stringSpecialBytes(block(at: last)).dropping(i &- last)
            return special.isEmpty ? count : last &+ special.first
        }
        while i < count {
            let b = bytes[i]
            if b == JSONByte.quote || b == JSONByte.backslash || b < 0x20 { return i }
            i &+= 1
        }
        return i
    }

    /// The eight bytes at `i` as a word, the first byte lowest (little-endian hosts only, see
    /// below). `i + 8` must not pass the end.
    @inline(always)
    private func word(at i: Int) -> UInt64 {
        Self.word(at: bytes.baseAddress.unsafelyUnwrapped + i)
    }

    /// The eight bytes at `p` as a word, the first byte lowest.
    @inline(always)
    fileprivate static func word(at p: UnsafePointer<UInt8>) -> UInt64 {
        // Read as eight bytes (alignment 1, so any address will do) and reinterpreted: unlike
        // `loadUnaligned`, every step of this is inlined even into a large caller.
        let bytes8 = UnsafeRawPointer(p).assumingMemoryBound(to: Bytes8.self)
        return unsafeBitCast(bytes8.pointee, to: UInt64.self)
    }

    private typealias Bytes8 = (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8)

    /// The sixteen bytes at `i` as a vector. `i + 16` must not pass the end.
    @inline(always)
    private func block(at i: Int) -> SIMD16<UInt8> {
        // Read as a tuple (alignment 1) and reinterpreted, as `word(at:)` does: one unaligned
        // vector load.
        let p = UnsafeRawPointer(bytes.baseAddress.unsafelyUnwrapped + i).assumingMemoryBound(to: Bytes16.self)
        return unsafeBitCast(p.pointee, to: SIMD16<UInt8>.self)
    }

    /// The first eight bytes of `block` as a word, the first byte lowest.
    @inline(always)
    private static func firstWord(_ block: SIMD16<UInt8>) -> UInt64 {
        unsafeBitCast(block, to: SIMD2<UInt64>.self)[0]
    }

    private typealias Bytes16 = (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                                 UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8)

    // MARK: - Sixteen bytes at a time

    /// The bytes of a sixteen-byte block that a scan flagged, as two words, the first byte lowest
    /// and every flagged byte 0xFF. Testing the two words, rather than the lanes, compiles to a
    /// few SSE2 instructions and one branch.
    private struct BlockFlags {
        var low: UInt64
        var high: UInt64

        @inline(always)
        init(_ mask: SIMDMask<SIMD16<Int8>>) {
            let words = unsafeBitCast(mask, to: SIMD2<UInt64>.self)
            low = words[0]
            high = words[1]
        }

        @inline(always)
        var isEmpty: Bool { low | high == 0 }

        /// The offset of the first flagged byte. Only for flags that are not empty.
        @inline(always)
        var first: Int {
            low != 0 ? low.trailingZeroBitCount &>> 3 : 8 &+ high.trailingZeroBitCount &>> 3
        }

        /// These flags without those of the first `n` bytes (`0 <= n < 16`).
        @inline(always)
        func dropping(_ n: Int) -> BlockFlags {
            var flags = self
            if n < 8 {
                flags.low &= ~0 &<< UInt64(truncatingIfNeeded: n &* 8)
            } else {
                flags.low = 0
                flags.high &= ~0 &<< UInt64(truncatingIfNeeded: (n &- 8) &* 8)
            }
            return flags
        }
    }

    /// Flags the bytes of `block` a string scan must stop at: `"`, `\` and the control characters
    /// below 0x20.
    @inline(always)
    private static func stringSpecialBytes(_ block: SIMD16<UInt8>) -> BlockFlags {
        BlockFlags(stringSpecialMask(block))
    }

    /// `stringSpecialBytes(_:)` as a lane mask, for combining blocks before testing them.
    @inline(always)
    private static func stringSpecialMask(_ block: SIMD16<UInt8>) -> SIMDMask<SIMD16<Int8>> {
        block .== SIMD16(repeating: JSONByte.quote) .| block .== SIMD16(repeating: JSONByte.backslash)
            .| block .< SIMD16(repeating: JSONByte.space)
    }

    /// Flags the bytes of `block` a container skip must look at: `"`, `[`, `]`, `{` and `}`.
    /// Setting bit 0x20 turns `[` into `{` and `]` into `}`, and no other byte into either.
    @inline(always)
    private static func structuralBytes(_ block: SIMD16<UInt8>) -> BlockFlags {
        let folded = block | SIMD16(repeating: 0x20)
        return BlockFlags(block .== SIMD16(repeating: JSONByte.quote) .| folded .== SIMD16(repeating: JSONByte.openBrace)
            .| folded .== SIMD16(repeating: JSONByte.closeBrace))
    }

    // MARK: - Eight bytes at a time

    private static let ones: UInt64 = 0x0101_0101_0101_0101
    private static let highs: UInt64 = 0x8080_8080_8080_8080

    /// Sets the high bit of exactly the bytes of `word` that are not ASCII digits. With the
    /// high bit masked off, a byte plus 0x76 reaches 0x80 when it is at least 10 above '0' and
    /// never carries into the next byte.
    @inline(always)
    private static func nonDigitBytes(_ word: UInt64) -> UInt64 {
        let offset = word ^ (ones &* UInt64(JSONByte.zero))
        return (((offset & ~highs) &+ ones &* 0x76) | offset) & highs
    }

    private func isHexDigit(_ b: UInt8) -> Bool {
        isDigit(b) || (b | 0x20 >= 0x61 && b | 0x20 <= 0x66)
    }

    /// Skips whitespace and answers the next byte; nil at the end or after a failure.
    @inline(always)
    private mutating func peekByte() -> UInt8? {
        if index < bytes.count {
            let b = bytes[index]
            if b > JSONByte.space { return b }
        }
        return peekByteAfterWhitespace()
    }

    @inline(always)
    private mutating func peekByteAfterWhitespace() -> UInt8? {
        index = endOfWhitespace(at: index)
        guard index < bytes.count else { return nil }
        return bytes[index]
    }

    @inline(always)
    private mutating func skipWhitespace() {
        index = endOfWhitespace(at: index)
    }

    /// The index of the first byte at or after `i` that is not JSON whitespace (or the end).
    @inline(never)
    private func endOfWhitespace(at i: Int) -> Int {
        var i = i
        while i < bytes.count {
            switch bytes[i] {
            case JSONByte.space, JSONByte.tab, JSONByte.lf, JSONByte.cr: i &+= 1
            default: return i
            }
        }
        return i
    }

    @inline(always)
    private mutating func expect(_ byte: UInt8) -> Bool {
        guard peekByte() == byte else { return fail() }
        index &+= 1
        return true
    }

    @inline(always)
    private mutating func fail() -> Bool {
        failed = true
        index = bytes.count
        return false
    }
}

extension JSONByteReader {
    /// A JSON string as it appears in the source: the bytes between the quotes, escapes not yet
    /// decoded. Valid only while the reader's bytes are.
    package struct RawString {
        /// Where the bytes start: nil only for an empty string of an empty buffer.
        private let start: UnsafePointer<UInt8>?
        private let count: Int
        package let hasEscapes: Bool
        /// The eight bytes from the start, the first byte lowest: `==` compares a literal's start
        /// in one instruction. Past the end of a shorter string they are whatever follows it (or
        /// zero), so only the string's own bytes may be compared.
        private let head: UInt64

        /// A raw string over `raw`, which holds escapes when `hasEscapes`.
        package init(raw: UnsafeBufferPointer<UInt8>, hasEscapes: Bool) {
            var head: UInt64 = 0
            if raw.count >= 8 {
                head = JSONByteReader.word(at: raw.baseAddress.unsafelyUnwrapped)
            } else {
                for k in 0..<raw.count { head |= UInt64(raw[k]) &<< UInt64(truncatingIfNeeded: 8 &* k) }
            }
            self.init(start: raw.baseAddress, count: raw.count, hasEscapes: hasEscapes, head: head)
        }

        @inline(always)
        fileprivate init(start: UnsafePointer<UInt8>?, count: Int, hasEscapes: Bool, head: UInt64) {
            self.start = start
            self.count = count
            self.hasEscapes = hasEscapes
            self.head = head
        }

        /// The bytes between the quotes.
        package var raw: UnsafeBufferPointer<UInt8> { UnsafeBufferPointer(start: start, count: count) }

        package var isEmpty: Bool {
            @inline(always) get { count == 0 }
        }

        /// Compares the decoded string with an ASCII or UTF-8 literal without allocating (unless the
        /// source used escapes, which is rare for the keys and enum values this is meant for).
        /// Inlined, a literal's length and first eight bytes fold into constants: a key that does
        /// not match costs a compare or two.
        @inline(always)
        package static func == (lhs: RawString, rhs: StaticString) -> Bool {
            let n = rhs.utf8CodeUnitCount
            let p = rhs.utf8Start
            guard !lhs.hasEscapes else { return lhs.decodedEquals(rhs) }
            guard lhs.count == n else { return false }
            var literalHead: UInt64 = 0
            for k in 0..<(n < 8 ? n : 8) { literalHead |= UInt64(p[k]) &<< UInt64(truncatingIfNeeded: k &* 8) }
            let mask: UInt64 = n >= 8 ? ~0 : (1 &<< UInt64(truncatingIfNeeded: n &* 8)) &- 1
            guard lhs.head & mask == literalHead else { return false }
            if n <= 8 { return true }
            let start = lhs.start.unsafelyUnwrapped
            // Then word by word; the last word ends at the last byte (overlapping the one before).
            var k = 8
            while k &+ 8 < n {
                if JSONByteReader.word(at: start + k) != JSONByteReader.word(at: p + k) { return false }
                k &+= 8
            }
            return JSONByteReader.word(at: start + (n &- 8)) == JSONByteReader.word(at: p + (n &- 8))
        }

        @inline(never)
        private func decodedEquals(_ literal: StaticString) -> Bool {
            let n = literal.utf8CodeUnitCount
            let p = literal.utf8Start
            guard let decoded = decodedBytes() else { return false }
            guard decoded.count == n else { return false }
            for k in 0..<n where decoded[k] != p[k] { return false }
            return true
        }

        /// True when the decoded string starts with `prefix`.
        package func hasPrefix(_ prefix: StaticString) -> Bool {
            matches(prefix, atEnd: false)
        }

        /// True when the decoded string ends with `suffix`.
        package func hasSuffix(_ suffix: StaticString) -> Bool {
            matches(suffix, atEnd: true)
        }

        private func matches(_ literal: StaticString, atEnd: Bool) -> Bool {
            let n = literal.utf8CodeUnitCount
            let p = literal.utf8Start
            let check = { (s: UnsafeBufferPointer<UInt8>) -> Bool in
                guard s.count >= n else { return false }
                let offset = atEnd ? s.count - n : 0
                for k in 0..<n where s[offset + k] != p[k] { return false }
                return true
            }
            if !hasEscapes { return check(raw) }
            guard let decoded = decodedBytes() else { return false }
            return decoded.withUnsafeBufferPointer(check)
        }

        /// The decoded string; nil when an escape is malformed. Lone surrogates become U+FFFD, as
        /// do invalid UTF-8 sequences.
        package func decoded() -> String? {
            if !hasEscapes { return String(decoding: raw, as: UTF8.self) }
            return decodedBytes().map { String(decoding: $0, as: UTF8.self) }
        }

        private func decodedBytes() -> [UInt8]? {
            var out: [UInt8] = []
            out.reserveCapacity(raw.count)
            var i = 0
            while i < raw.count {
                let b = raw[i]
                i += 1
                guard b == JSONByte.backslash else {
                    out.append(b)
                    continue
                }
                guard i < raw.count else { return nil }
                let e = raw[i]
                i += 1
                switch e {
                case JSONByte.quote, JSONByte.backslash, JSONByte.slash: out.append(e)
                case JSONByte.b: out.append(0x08)
                case JSONByte.f: out.append(0x0C)
                case JSONByte.n: out.append(JSONByte.lf)
                case JSONByte.r: out.append(JSONByte.cr)
                case JSONByte.t: out.append(JSONByte.tab)
                case JSONByte.u:
                    guard let unit = hex4(at: i) else { return nil }
                    i += 4
                    var scalar: UInt32 = UInt32(unit)
                    if (0xD800..<0xDC00).contains(unit) {
                        // A high surrogate counts only when a low one follows as another \u escape.
                        if i + 6 <= raw.count, raw[i] == JSONByte.backslash, raw[i + 1] == JSONByte.u,
                           let low = hex4(at: i + 2), (0xDC00..<0xE000).contains(low) {
                            scalar = 0x10000 + ((UInt32(unit) - 0xD800) << 10) + (UInt32(low) - 0xDC00)
                            i += 6
                        } else {
                            scalar = 0xFFFD
                        }
                    } else if (0xDC00..<0xE000).contains(unit) {
                        scalar = 0xFFFD
                    }
                    appendUTF8(Unicode.Scalar(scalar) ?? "\u{FFFD}", to: &out)
                default:
                    return nil
                }
            }
            return out
        }

        private func hex4(at i: Int) -> UInt16? {
            guard i + 4 <= raw.count else { return nil }
            var v: UInt16 = 0
            for k in 0..<4 {
                let c = raw[i + k]
                let d: UInt8
                switch c {
                case JSONByte.zero...JSONByte.nine: d = c - JSONByte.zero
                case 0x61...0x66: d = c - 0x61 + 10
                case 0x41...0x46: d = c - 0x41 + 10
                default: return nil
                }
                v = v << 4 | UInt16(d)
            }
            return v
        }

        private func appendUTF8(_ scalar: Unicode.Scalar, to out: inout [UInt8]) {
            for unit in UTF8.encode(scalar)! { out.append(unit) }
        }
    }
}

// The scanners read eight bytes as one word and take its lowest byte as the first in memory.
#if _endian(big)
#error("JSONByteReader reads words little-endian")
#endif

/// Byte values the scanners compare against, named so the switch statements read as grammar.
private enum JSONByte {
    static let tab: UInt8 = 0x09
    static let lf: UInt8 = 0x0A
    static let cr: UInt8 = 0x0D
    static let space: UInt8 = 0x20
    static let quote: UInt8 = 0x22
    static let plus: UInt8 = 0x2B
    static let comma: UInt8 = 0x2C
    static let minus: UInt8 = 0x2D
    static let dot: UInt8 = 0x2E
    static let slash: UInt8 = 0x2F
    static let zero: UInt8 = 0x30
    static let nine: UInt8 = 0x39
    static let colon: UInt8 = 0x3A
    static let openBracket: UInt8 = 0x5B
    static let backslash: UInt8 = 0x5C
    static let closeBracket: UInt8 = 0x5D
    static let b: UInt8 = 0x62
    static let e: UInt8 = 0x65
    static let f: UInt8 = 0x66
    static let n: UInt8 = 0x6E
    static let r: UInt8 = 0x72
    static let t: UInt8 = 0x74
    static let u: UInt8 = 0x75
    static let openBrace: UInt8 = 0x7B
    static let closeBrace: UInt8 = 0x7D
}
