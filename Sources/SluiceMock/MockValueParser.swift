/// Parses the small value grammar shared by mock settings and fault headers.
///
/// Every function answers either the value or a message that says what was expected; the caller
/// prefixes the message with the key or header name it was reading.
enum MockValueParser {
    /// A non-negative duration such as `150ms`, `2s`, `1.5s`, `250us` or `0`.
    /// A bare number other than `0` is refused because its unit would be a guess.
    static func duration(_ text: Substring) -> Result<Duration, MockValueError> {
        let text = text.trimmingSpaces()
        let expected = MockValueError("expected a duration like 150ms, 2s or 1.5s, got \"\(text)\"")
        if text == "0" { return .success(.zero) }
        let units: [(suffix: String, nanoseconds: Double)] = [
            ("ms", 1e6), ("us", 1e3), ("ns", 1), ("s", 1e9),
        ]
        for unit in units where text.hasSuffix(unit.suffix) {
            let number = text.dropLast(unit.suffix.count)
            guard let value = decimal(number), value >= 0 else { return .failure(expected) }
            let nanoseconds = value * unit.nanoseconds
            // Beyond a day is surely a typo, and it keeps the conversion to Int64 safe.
            guard nanoseconds <= 86_400e9 else {
                return .failure(MockValueError("duration \"\(text)\" is longer than a day"))
            }
            return .success(.nanoseconds(Int64(nanoseconds.rounded())))
        }
        return .failure(expected)
    }

    /// A body framing: `chunked` or `close`.
    static func framing(_ text: Substring) -> Result<MockFraming, MockValueError> {
        let text = text.trimmingSpaces()
        guard let framing = MockFraming(rawValue: String(text)) else {
            return .failure(MockValueError("expected chunked or close, got \"\(text)\""))
        }
        return .success(framing)
    }

    /// A count: a non-negative decimal integer such as `0` or `60`.
    static func count(_ text: Substring) -> Result<Int, MockValueError> {
        let text = text.trimmingSpaces()
        guard !text.isEmpty, text.allSatisfy(\.isASCIIDigit), let value = Int(text), value <= 1_000_000 else {
            return .failure(MockValueError("expected a whole number from 0 to 1000000, got \"\(text)\""))
        }
        return .success(value)
    }

    /// A rate: a finite number greater than zero such as `40` or `12.5`.
    static func rate(_ text: Substring) -> Result<Double, MockValueError> {
        let text = text.trimmingSpaces()
        guard let value = decimal(text), value > 0, value <= 1_000_000 else {
            return .failure(MockValueError("expected a number greater than 0 such as 40 or 12.5, got \"\(text)\""))
        }
        return .success(value)
    }

    /// A plain decimal (`12`, `1.5`, `.5`); no sign, exponent, `inf` or `nan`, which
    /// `Double(_:)` would otherwise accept.
    private static func decimal(_ text: Substring) -> Double? {
        guard !text.isEmpty, text.allSatisfy({ $0.isASCIIDigit || $0 == "." }),
              text.filter({ $0 == "." }).count <= 1, text != "."
        else { return nil }
        return Double(text)
    }
}

/// What a value should have looked like; see `MockValueParser`.
struct MockValueError: Error, Sendable {
    var message: String
    init(_ message: String) { self.message = message }
}

extension Character {
    fileprivate var isASCIIDigit: Bool { ("0"..."9").contains(self) }
}

extension Substring {
    fileprivate func trimmingSpaces() -> Substring {
        var result = self
        while result.first == " " || result.first == "\t" { result.removeFirst() }
        while result.last == " " || result.last == "\t" { result.removeLast() }
        return result
    }
}
