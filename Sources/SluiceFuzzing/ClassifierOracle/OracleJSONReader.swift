/// `JSONByteReader` as it was at cdd58ed, for `OracleClassifier`; see there.
struct OracleJSONReader {
    let bytes: UnsafeBufferPointer<UInt8>
    private(set) var index: Int
    private(set) var failed = false

    init(_ bytes: UnsafeBufferPointer<UInt8>) {
        self.bytes = bytes
        self.index = 0
    }

    /// The kinds of JSON value, as told by a value's first byte.
    enum ValueKind: Equatable {
        case object, array, string, number, bool, null
    }

    /// Skips whitespace and answers the kind of the next value without consuming it; nil at the
    /// end, at a byte no value starts with, or after a failure.
    @inline(__always)
    mutating func peekKind() -> ValueKind? {
        guard let b = peekByte() else { return nil }
        switch b {
        case OracleJSONByte.openBrace: return .object
        case OracleJSONByte.openBracket: return .array
        case OracleJSONByte.quote: return .string
        case OracleJSONByte.minus, OracleJSONByte.zero...OracleJSONByte.nine: return .number
        case OracleJSONByte.t, OracleJSONByte.f: return .bool
        case OracleJSONByte.n: return .null
        default: return nil
        }
    }

    /// True when only whitespace is left. Use after reading the top-level value to reject
    /// trailing garbage.
    mutating func isAtEnd() -> Bool {
        skipWhitespace()
        return !failed && index == bytes.count
    }

    /// Walks an object: calls `body` once per member with its key and the reader positioned at
    /// the member's value. `body` may read the value or leave it alone; a value left unread is
    /// skipped. Answers false (and the reader has failed) when the next value is not an object
    /// or is malformed.
    @discardableResult
    mutating func readObject(_ body: (RawString, inout OracleJSONReader) -> Void) -> Bool {
        guard expect(OracleJSONByte.openBrace) else { return false }
        if peekByte() == OracleJSONByte.closeBrace {
            index += 1
            return true
        }
        while true {
            guard peekByte() == OracleJSONByte.quote, let key = scanString() else { return fail() }
            guard expect(OracleJSONByte.colon) else { return false }
            skipWhitespace()
            let before = index
            body(key, &self)
            if failed { return false }
            if index <= before { skipValue() }
            switch peekByte() {
            case OracleJSONByte.comma: index += 1
            case OracleJSONByte.closeBrace: index += 1; return true
            default: return fail()
            }
        }
    }

    /// Walks an array: calls `body` once per element with the reader positioned at it. An
    /// element left unread is skipped. Answers false when not an array or malformed.
    @discardableResult
    mutating func readArray(_ body: (inout OracleJSONReader) -> Void) -> Bool {
        guard expect(OracleJSONByte.openBracket) else { return false }
        if peekByte() == OracleJSONByte.closeBracket {
            index += 1
            return true
        }
        while true {
            skipWhitespace()
            let before = index
            body(&self)
            if failed { return false }
            if index <= before { skipValue() }
            switch peekByte() {
            case OracleJSONByte.comma: index += 1
            case OracleJSONByte.closeBracket: index += 1; return true
            default: return fail()
            }
        }
    }

    /// Reads a string value without decoding it. Answers nil and skips the value when it is not
    /// a string (that is not a failure: a field of an unexpected type is simply absent).
    mutating func readString() -> RawString? {
        guard let kind = peekKind() else { _ = fail(); return nil }
        guard kind == .string else { skipValue(); return nil }
        return scanString()
    }

    /// Reads an integer. Answers nil (and skips the value) for non-numbers, numbers with a
    /// non-zero fraction or an exponent, and integers that do not fit in `Int`.
    mutating func readInt() -> Int? {
        guard let kind = peekKind() else { _ = fail(); return nil }
        guard kind == .number else { skipValue(); return nil }
        let start = index
        guard scanNumber() else { return nil }
        var i = start
        let negative = bytes[i] == OracleJSONByte.minus
        if negative { i += 1 }
        var value = 0
        var overflow = false
        while i < index, case let b = bytes[i], b >= OracleJSONByte.zero, b <= OracleJSONByte.nine {
            let digit = Int(b &- OracleJSONByte.zero)
            let (m, o1) = value.multipliedReportingOverflow(by: 10)
            let (s, o2) = negative ? m.subtractingReportingOverflow(digit) : m.addingReportingOverflow(digit)
            overflow = overflow || o1 || o2
            value = s
            i += 1
        }
        if i < index, bytes[i] == OracleJSONByte.dot {
            i += 1
            while i < index, bytes[i] == OracleJSONByte.zero { i += 1 }
        }
        // Anything left is a non-zero fraction digit or an exponent.
        return overflow || i < index ? nil : value
    }

    /// Consumes `null` and answers true, or answers false and consumes nothing.
    mutating func readNull() -> Bool {
        guard peekKind() == .null else { return false }
        skipValue()
        return !failed
    }

    /// Answers whether the next value carries something: a non-empty string, array or object,
    /// a number, or `true`. `null`, `false`, `""`, `[]` and `{}` carry nothing. Consumes the value.
    mutating func readHasContent() -> Bool {
        guard let kind = peekKind() else { _ = fail(); return false }
        switch kind {
        case .string:
            return !(scanString()?.isEmpty ?? true)
        case .array, .object:
            let close = kind == .array ? OracleJSONByte.closeBracket : OracleJSONByte.closeBrace
            let start = index
            index += 1
            let empty = peekByte() == close
            index = start
            skipValue()
            return !empty && !failed
        case .number:
            skipValue()
            return !failed
        case .bool:
            let isTrue = bytes[index] == OracleJSONByte.t
            skipValue()
            return isTrue && !failed
        case .null:
            skipValue()
            return false
        }
    }

    /// Skips the next value, whatever it is.
    mutating func skipValue() {
        guard let kind = peekKind() else { _ = fail(); return }
        switch kind {
        case .string:
            _ = scanString()
        case .number:
            _ = scanNumber()
        case .bool:
            _ = bytes[index] == OracleJSONByte.t ? skipWord(Self.trueWord, 4) : skipWord(Self.falseWord, 5)
        case .null:
            _ = skipWord(Self.nullWord, 4)
        case .object, .array:
            skipContainer()
        }
    }

    // MARK: - Scanning

    private mutating func skipContainer() {
        // Depth counting instead of recursion: a hostile document nested a million deep costs
        // a scan, not the stack.
        var depth = 0
        while index < bytes.count {
            let b = bytes[index]
            switch b {
            case OracleJSONByte.quote:
                guard scanString() != nil else { return }
                continue
            case OracleJSONByte.openBrace, OracleJSONByte.openBracket:
                depth += 1
            case OracleJSONByte.closeBrace, OracleJSONByte.closeBracket:
                depth -= 1
                if depth == 0 {
                    index += 1
                    return
                }
            default:
                break
            }
            index += 1
        }
        _ = fail()
    }

    /// Consumes a number, checking it against the JSON grammar:
    /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`.
    private mutating func scanNumber() -> Bool {
        if index < bytes.count, bytes[index] == OracleJSONByte.minus { index += 1 }
        guard index < bytes.count, isDigit(bytes[index]) else { return fail() }
        if bytes[index] == OracleJSONByte.zero {
            index += 1
        } else {
            skipDigits()
        }
        if index < bytes.count, bytes[index] == OracleJSONByte.dot {
            index += 1
            guard index < bytes.count, isDigit(bytes[index]) else { return fail() }
            skipDigits()
        }
        if index < bytes.count, bytes[index] | 0x20 == OracleJSONByte.e {
            index += 1
            if index < bytes.count, bytes[index] == OracleJSONByte.plus || bytes[index] == OracleJSONByte.minus { index += 1 }
            guard index < bytes.count, isDigit(bytes[index]) else { return fail() }
            skipDigits()
        }
        return true
    }

    private mutating func skipDigits() {
        while index < bytes.count, isDigit(bytes[index]) { index += 1 }
    }

    @inline(__always)
    private func isDigit(_ b: UInt8) -> Bool {
        b >= OracleJSONByte.zero && b <= OracleJSONByte.nine
    }

    /// "null", "true" and "fals" as little-endian words, and the "e" that ends "false".
    private static let nullWord: UInt32 = 0x6C6C_756E
    private static let trueWord: UInt32 = 0x6575_7274
    private static let falseWord: UInt32 = 0x736C_6166

    /// Consumes `null`, `true` or `false`: their first four bytes compared as one word
    /// (`length` 5 also wants the `e` of `false`), not byte by byte through a `StaticString`.
    @inline(__always)
    private mutating func skipWord(_ word: UInt32, _ length: Int) -> Bool {
        guard bytes.count - index >= length, let base = bytes.baseAddress else { return fail() }
        guard UnsafeRawPointer(base + index).loadUnaligned(as: UInt32.self).littleEndian == word,
              length == 4 || base[index + 4] == OracleJSONByte.e else { return fail() }
        index += length
        return true
    }

    /// At an opening quote: consumes the string and answers its raw (still escaped) content.
    /// Checks the string is well-formed: terminated, no raw control characters, only JSON's
    /// escapes (`\u` with four hex digits). Surrogate pairing is left to `decoded()`.
    private mutating func scanString() -> RawString? {
        index += 1
        let start = index
        var escaped = false
        scan: while index < bytes.count {
            skipPlainStringBytes()
            guard index < bytes.count else { break scan }
            let b = bytes[index]
            if b == OracleJSONByte.quote {
                let raw = UnsafeBufferPointer(rebasing: bytes[start..<index])
                index += 1
                return RawString(raw: raw, hasEscapes: escaped)
            }
            if b == OracleJSONByte.backslash {
                escaped = true
                guard index + 1 < bytes.count else { break scan }
                switch bytes[index + 1] {
                case OracleJSONByte.quote, OracleJSONByte.backslash, OracleJSONByte.slash, OracleJSONByte.b, OracleJSONByte.f,
                     OracleJSONByte.n, OracleJSONByte.r, OracleJSONByte.t:
                    index += 2
                case OracleJSONByte.u:
                    guard index + 6 <= bytes.count else { break scan }
                    for k in 2..<6 where !isHexDigit(bytes[index + k]) {
                        _ = fail()
                        return nil
                    }
                    index += 6
                default:
                    _ = fail()
                    return nil
                }
            } else if b < 0x20 {
                break scan
            } else {
                index += 1
            }
        }
        _ = fail()
        return nil
    }

    /// Advances over string bytes that need no attention (not `"`, `\`, or a control
    /// character), eight at a time while it can: most of a chunk's bytes are inside strings.
    @inline(__always)
    private mutating func skipPlainStringBytes() {
        guard let base = bytes.baseAddress else { return }
        let count = bytes.count
        var i = index
        defer { index = i }
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highs: UInt64 = 0x8080_8080_8080_8080
        while count - i >= 8 {
            let word = UnsafeRawPointer(base + i).loadUnaligned(as: UInt64.self)
            // Each test sets a byte's high bit where that byte may match; it can report a false
            // match after a true one, never miss one, and never report one in a clean word.
            let quote = word ^ (ones &* UInt64(OracleJSONByte.quote))
            let backslash = word ^ (ones &* UInt64(OracleJSONByte.backslash))
            let special = (((quote &- ones) & ~quote) | ((backslash &- ones) & ~backslash)
                | ((word &- ones &* 0x20) & ~word)) & highs
            if special != 0 {
                // The lowest flagged byte (little-endian: the first in memory) is a true match.
                i += special.littleEndian.trailingZeroBitCount >> 3
                return
            }
            i += 8
        }
        while i < count {
            let b = base[i]
            if b == OracleJSONByte.quote || b == OracleJSONByte.backslash || b < 0x20 { return }
            i += 1
        }
    }

    private func isHexDigit(_ b: UInt8) -> Bool {
        isDigit(b) || (b | 0x20 >= 0x61 && b | 0x20 <= 0x66)
    }

    @inline(__always)
    private mutating func peekByte() -> UInt8? {
        skipWhitespace()
        guard !failed, index < bytes.count else { return nil }
        return bytes[index]
    }

    @inline(__always)
    private mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case OracleJSONByte.space, OracleJSONByte.tab, OracleJSONByte.lf, OracleJSONByte.cr: index += 1
            default: return
            }
        }
    }

    @inline(__always)
    private mutating func expect(_ byte: UInt8) -> Bool {
        guard peekByte() == byte else { return fail() }
        index += 1
        return true
    }

    private mutating func fail() -> Bool {
        failed = true
        index = bytes.count
        return false
    }
}

extension OracleJSONReader {
    /// A JSON string as it appears in the source: the bytes between the quotes, escapes not yet
    /// decoded. Valid only while the reader's bytes are.
    struct RawString {
        let raw: UnsafeBufferPointer<UInt8>
        let hasEscapes: Bool

        var isEmpty: Bool { raw.isEmpty }

        /// Compares the decoded string with an ASCII or UTF-8 literal without allocating (unless the
        /// source used escapes, which is rare for the keys and enum values this is meant for).
        @inline(__always)
        static func == (lhs: RawString, rhs: StaticString) -> Bool {
            let n = rhs.utf8CodeUnitCount
            let p = rhs.utf8Start
            if !lhs.hasEscapes {
                guard lhs.raw.count == n else { return false }
                for k in 0..<n where lhs.raw[k] != p[k] { return false }
                return true
            }
            guard let decoded = lhs.decodedBytes() else { return false }
            guard decoded.count == n else { return false }
            for k in 0..<n where decoded[k] != p[k] { return false }
            return true
        }

        /// True when the decoded string starts with `prefix`.
        func hasPrefix(_ prefix: StaticString) -> Bool {
            matches(prefix, atEnd: false)
        }

        /// True when the decoded string ends with `suffix`.
        func hasSuffix(_ suffix: StaticString) -> Bool {
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
        func decoded() -> String? {
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
                guard b == OracleJSONByte.backslash else {
                    out.append(b)
                    continue
                }
                guard i < raw.count else { return nil }
                let e = raw[i]
                i += 1
                switch e {
                case OracleJSONByte.quote, OracleJSONByte.backslash, OracleJSONByte.slash: out.append(e)
                case OracleJSONByte.b: out.append(0x08)
                case OracleJSONByte.f: out.append(0x0C)
                case OracleJSONByte.n: out.append(OracleJSONByte.lf)
                case OracleJSONByte.r: out.append(OracleJSONByte.cr)
                case OracleJSONByte.t: out.append(OracleJSONByte.tab)
                case OracleJSONByte.u:
                    guard let unit = hex4(at: i) else { return nil }
                    i += 4
                    var scalar: UInt32 = UInt32(unit)
                    if (0xD800..<0xDC00).contains(unit) {
                        // A high surrogate counts only when a low one follows as another \u escape.
                        if i + 6 <= raw.count, raw[i] == OracleJSONByte.backslash, raw[i + 1] == OracleJSONByte.u,
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
                case OracleJSONByte.zero...OracleJSONByte.nine: d = c - OracleJSONByte.zero
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

/// Byte values the scanners compare against, named so the switch statements read as grammar.
private enum OracleJSONByte {
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
