/// A plain recursive-descent reader of RFC 8259 JSON, written for clarity rather than speed: the
/// reference the JSON fuzz target holds `JSONByteReader` to.
///
/// It accepts exactly one value with optional whitespace around it. Like `JSONByteReader`, it does
/// not validate UTF-8 (invalid sequences decode to U+FFFD) and decodes lone surrogate escapes to
/// U+FFFD. Nesting deeper than `maxDepth` answers `.tooDeep`, which the target does not compare.
struct ReferenceJSONParser {
    enum Outcome: Equatable {
        case value(JSONValue)
        case invalid
        case tooDeep
    }

    static let maxDepth = 64

    private let bytes: UnsafeRawBufferPointer
    private var index = 0
    private var tooDeep = false

    static func parse(_ bytes: UnsafeRawBufferPointer) -> Outcome {
        var parser = ReferenceJSONParser(bytes: bytes)
        let value = parser.value(depth: 0)
        if parser.tooDeep { return .tooDeep }
        parser.skipWhitespace()
        guard let value, parser.index == bytes.count else { return .invalid }
        return .value(value)
    }

    private init(bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    private var current: UInt8? { index < bytes.count ? bytes[index] : nil }

    private mutating func skipWhitespace() {
        while let b = current, b == 0x20 || b == 0x09 || b == 0x0A || b == 0x0D { index += 1 }
    }

    private mutating func value(depth: Int) -> JSONValue? {
        guard depth <= Self.maxDepth else {
            tooDeep = true
            return nil
        }
        skipWhitespace()
        guard let first = current else { return nil }
        switch first {
        case UInt8(ascii: "{"): return object(depth: depth)
        case UInt8(ascii: "["): return array(depth: depth)
        case UInt8(ascii: "\""): return string().map { .string($0) }
        case UInt8(ascii: "t"): return literal("true") ? .bool(true) : nil
        case UInt8(ascii: "f"): return literal("false") ? .bool(false) : nil
        case UInt8(ascii: "n"): return literal("null") ? .null : nil
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return number()
        default: return nil
        }
    }

    private mutating func object(depth: Int) -> JSONValue? {
        index += 1
        var members: [JSONValue.Member] = []
        skipWhitespace()
        if current == UInt8(ascii: "}") {
            index += 1
            return .object(members)
        }
        while true {
            skipWhitespace()
            guard current == UInt8(ascii: "\""), let key = string() else { return nil }
            skipWhitespace()
            guard current == UInt8(ascii: ":") else { return nil }
            index += 1
            guard let value = value(depth: depth + 1) else { return nil }
            members.append(.init(key: key, value: value))
            skipWhitespace()
            switch current {
            case UInt8(ascii: ","): index += 1
            case UInt8(ascii: "}"): index += 1; return .object(members)
            default: return nil
            }
        }
    }

    private mutating func array(depth: Int) -> JSONValue? {
        index += 1
        var elements: [JSONValue] = []
        skipWhitespace()
        if current == UInt8(ascii: "]") {
            index += 1
            return .array(elements)
        }
        while true {
            guard let element = value(depth: depth + 1) else { return nil }
            elements.append(element)
            skipWhitespace()
            switch current {
            case UInt8(ascii: ","): index += 1
            case UInt8(ascii: "]"): index += 1; return .array(elements)
            default: return nil
            }
        }
    }

    private mutating func literal(_ word: String) -> Bool {
        for expected in word.utf8 {
            guard current == expected else { return false }
            index += 1
        }
        return true
    }

    private mutating func digits() -> Int {
        let start = index
        while let b = current, b >= UInt8(ascii: "0"), b <= UInt8(ascii: "9") { index += 1 }
        return index - start
    }

    private mutating func number() -> JSONValue? {
        let start = index
        let negative = current == UInt8(ascii: "-")
        if negative { index += 1 }
        let integerStart = index
        if current == UInt8(ascii: "0") {
            index += 1
        } else if digits() == 0 {
            return nil
        }
        let integerEnd = index
        var fractionIsZero = true
        if current == UInt8(ascii: ".") {
            index += 1
            let fractionStart = index
            guard digits() > 0 else { return nil }
            fractionIsZero = bytes[fractionStart..<index].allSatisfy { $0 == UInt8(ascii: "0") }
        }
        var hasExponent = false
        if current == UInt8(ascii: "e") || current == UInt8(ascii: "E") {
            hasExponent = true
            index += 1
            if current == UInt8(ascii: "+") || current == UInt8(ascii: "-") { index += 1 }
            guard digits() > 0 else { return nil }
        }
        let text = String(decoding: bytes[start..<index], as: UTF8.self)
        var integer: Int?
        if fractionIsZero, !hasExponent {
            let magnitude = String(decoding: bytes[integerStart..<integerEnd], as: UTF8.self)
            integer = Int(negative ? "-" + magnitude : magnitude)
        }
        return .number(text: text, integer: integer)
    }

    /// At the opening quote: the decoded string, or nil when it is not well-formed.
    private mutating func string() -> String? {
        index += 1
        var out: [UInt8] = []
        var pendingHigh: UInt32?
        func flushHigh() {
            if pendingHigh != nil { append(0xFFFD, to: &out) }
            pendingHigh = nil
        }
        while let b = current {
            index += 1
            switch b {
            case UInt8(ascii: "\""):
                flushHigh()
                return String(decoding: out, as: UTF8.self)
            case UInt8(ascii: "\\"):
                guard let escape = current else { return nil }
                index += 1
                if escape == UInt8(ascii: "u") {
                    guard let unit = hex4() else { return nil }
                    if (0xDC00...0xDFFF).contains(unit), let high = pendingHigh {
                        pendingHigh = nil
                        append(0x10000 + ((high - 0xD800) << 10) + (unit - 0xDC00), to: &out)
                    } else {
                        flushHigh()
                        if (0xD800...0xDBFF).contains(unit) {
                            pendingHigh = unit
                        } else {
                            append((0xDC00...0xDFFF).contains(unit) ? 0xFFFD : unit, to: &out)
                        }
                    }
                    continue
                }
                flushHigh()
                switch escape {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(escape)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "t"): out.append(0x09)
                default: return nil
                }
            case 0x00..<0x20:
                return nil
            default:
                flushHigh()
                out.append(b)
            }
        }
        return nil
    }

    private mutating func hex4() -> UInt32? {
        guard bytes.count - index >= 4 else { return nil }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let b = bytes[index]
            let digit: UInt32
            switch b {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(b - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt32(b - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt32(b - UInt8(ascii: "A") + 10)
            default: return nil
            }
            value = value << 4 | digit
            index += 1
        }
        return value
    }

    private func append(_ scalar: UInt32, to out: inout [UInt8]) {
        out.append(contentsOf: String(Character(Unicode.Scalar(scalar) ?? "\u{FFFD}")).utf8)
    }
}
