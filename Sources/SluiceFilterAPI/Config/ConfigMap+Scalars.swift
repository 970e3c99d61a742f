// Getters for plain values: text, numbers, booleans.
extension ConfigMap {
    /// Any scalar, as written. Unquoted numbers and booleans are accepted as their text
    /// (`name: 123` reads as "123"); lists and mappings are an error.
    public func string(_ key: String) -> String? {
        guard let node = presentValue(key) else { return nil }
        guard let text = node.scalar else {
            diagnostics.error("'\(key)' must be a string, got \(node.summary)", at: node.mark)
            return nil
        }
        return text
    }

    /// Like `string(_:)`, with `defaultValue` when the key is absent or not a scalar.
    public func string(_ key: String, default defaultValue: String) -> String {
        string(key) ?? defaultValue
    }

    /// An unquoted decimal integer such as `42` or `-1`. A quoted number is a string, not an
    /// integer, and is refused.
    public func int(_ key: String, in range: ClosedRange<Int>? = nil) -> Int? {
        guard let node = presentValue(key) else { return nil }
        guard let text = node.scalar, !node.isQuotedScalar, let value = Int(text) else {
            diagnostics.error("'\(key)' must be an integer, got \(node.summary)", at: node.mark)
            return nil
        }
        return checked(value, key: key, node: node, in: range, describe: String.init)
    }

    /// Like `int(_:in:)`, with `defaultValue` when the key is absent, malformed or out of range.
    public func int(_ key: String, default defaultValue: Int, in range: ClosedRange<Int>? = nil) -> Int {
        int(key, in: range) ?? defaultValue
    }

    /// An unquoted finite decimal number such as `0.5`, `2` or `1e-3`.
    public func double(_ key: String, in range: ClosedRange<Double>? = nil) -> Double? {
        guard let node = presentValue(key) else { return nil }
        guard let text = node.scalar, !node.isQuotedScalar, let value = Self.decimalNumber(text) else {
            diagnostics.error("'\(key)' must be a number, got \(node.summary)", at: node.mark)
            return nil
        }
        return checked(value, key: key, node: node, in: range, describe: { "\($0)" })
    }

    /// Like `double(_:in:)`, with `defaultValue` when the key is absent, malformed or out of range.
    public func double(_ key: String, default defaultValue: Double, in range: ClosedRange<Double>? = nil) -> Double {
        double(key, in: range) ?? defaultValue
    }

    /// Unquoted `true` or `false` (also `True`/`TRUE`/`False`/`FALSE`). YAML 1.1's `yes`, `no`,
    /// `on` and `off` are refused: they surprise people (`country: no`).
    public func bool(_ key: String) -> Bool? {
        guard let node = presentValue(key) else { return nil }
        if let text = node.scalar, !node.isQuotedScalar {
            switch text {
            case "true", "True", "TRUE": return true
            case "false", "False", "FALSE": return false
            default: break
            }
        }
        diagnostics.error("'\(key)' must be true or false, got \(node.summary)", at: node.mark)
        return nil
    }

    /// Like `bool(_:)`, with `defaultValue` when the key is absent or not a boolean.
    public func bool(_ key: String, default defaultValue: Bool) -> Bool {
        bool(key) ?? defaultValue
    }

    /// `value` if it lies in `range` (or there is no range); otherwise records
    /// `'key' must be between A and B, got X` at the value and returns nil.
    func checked<T: Comparable>(
        _ value: T, key: String, node: ConfigNode, in range: ClosedRange<T>?, describe: (T) -> String
    ) -> T? {
        guard let range, !range.contains(value) else { return value }
        let got = node.scalar ?? describe(value)
        diagnostics.error(
            "'\(key)' must be between \(describe(range.lowerBound)) and \(describe(range.upperBound)), got \(got)",
            at: node.mark)
        return nil
    }

    /// Swift's `Double(_:)` also reads `nan`, `inf` and hexadecimal floats; a config number is
    /// plain decimal.
    private static func decimalNumber(_ text: String) -> Double? {
        let allowed = Set("0123456789.eE+-")
        guard text.contains(where: \.isNumber), text.allSatisfy(allowed.contains),
              let value = Double(text), value.isFinite else { return nil }
        return value
    }
}
