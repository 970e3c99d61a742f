// Getters with a lower bound only: `map.int("capacity", in: 1...)` reads "must be at least 1" where a
// closed range would say "between 1 and 9223372036854775807".
extension ConfigMap {
    /// An integer (see `int(_:in:)`) no smaller than `range.lowerBound`.
    public func int(_ key: String, in range: PartialRangeFrom<Int>) -> Int? {
        atLeast(range.lowerBound, key: key, int(key), describe: String.init)
    }

    /// Like `int(_:in:)`, with `defaultValue` when the key is absent, malformed or too small.
    public func int(_ key: String, default defaultValue: Int, in range: PartialRangeFrom<Int>) -> Int {
        int(key, in: range) ?? defaultValue
    }

    /// A number (see `double(_:in:)`) no smaller than `range.lowerBound`.
    public func double(_ key: String, in range: PartialRangeFrom<Double>) -> Double? {
        atLeast(range.lowerBound, key: key, double(key), describe: { "\($0)" })
    }

    /// Like `double(_:in:)`, with `defaultValue` when the key is absent, malformed or too small.
    public func double(_ key: String, default defaultValue: Double, in range: PartialRangeFrom<Double>) -> Double {
        double(key, in: range) ?? defaultValue
    }

    /// A duration (see `duration(_:in:)`) no shorter than `range.lowerBound`.
    public func duration(_ key: String, in range: PartialRangeFrom<Duration>) -> Duration? {
        atLeast(range.lowerBound, key: key, duration(key), describe: ConfigParse.durationText)
    }

    /// Like `duration(_:in:)`, with `defaultValue` when the key is absent, malformed or too short.
    public func duration(_ key: String, default defaultValue: Duration, in range: PartialRangeFrom<Duration>) -> Duration {
        duration(key, in: range) ?? defaultValue
    }

    /// A size (see `size(_:in:)`) no smaller than `range.lowerBound`.
    public func size(_ key: String, in range: PartialRangeFrom<Int>) -> Int? {
        atLeast(range.lowerBound, key: key, size(key), describe: ConfigParse.sizeText)
    }

    /// Like `size(_:in:)`, with `defaultValue` when the key is absent, malformed or too small.
    public func size(_ key: String, default defaultValue: Int, in range: PartialRangeFrom<Int>) -> Int {
        size(key, in: range) ?? defaultValue
    }

    /// `value` when it is at least `minimum`; otherwise records `'key' must be at least M, got X` at
    /// the value and returns nil. A nil `value` (absent or malformed, already reported) stays nil.
    private func atLeast<T: Comparable>(_ minimum: T, key: String, _ value: T?, describe: (T) -> String) -> T? {
        guard let value, value < minimum else { return value }
        let node = self.node(key)
        diagnostics.error("'\(key)' must be at least \(describe(minimum)), got \(node?.scalar ?? describe(value))",
                          at: node?.mark ?? mark)
        return nil
    }
}
