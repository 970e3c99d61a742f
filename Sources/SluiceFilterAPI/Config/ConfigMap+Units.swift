// Getters for values with units: durations and byte sizes.
extension ConfigMap {
    /// A duration with a unit, such as `250ms`, `30s`, `1.5s`, `5m`, `1h` or `1m30s`; see
    /// `ConfigParse.duration(_:)`. A bare number is refused because its unit would be a guess.
    public func duration(_ key: String, in range: ClosedRange<Duration>? = nil) -> Duration? {
        guard let node = presentValue(key) else { return nil }
        guard let text = node.scalar, let value = ConfigParse.duration(text) else {
            if let text = node.scalar, Self.isBareNumber(text) {
                diagnostics.error("'\(key)': a duration needs a unit, e.g. 30s (got \(text))", at: node.mark)
            } else {
                diagnostics.error(
                    "'\(key)' must be a duration such as 250ms, 30s, 1.5s, 5m or 1h, got \(node.summary)",
                    at: node.mark)
            }
            return nil
        }
        return checked(value, key: key, node: node, in: range, describe: ConfigParse.durationText)
    }

    /// Like `duration(_:in:)`, with `defaultValue` when the key is absent, malformed or out of range.
    public func duration(
        _ key: String, default defaultValue: Duration, in range: ClosedRange<Duration>? = nil
    ) -> Duration {
        duration(key, in: range) ?? defaultValue
    }

    /// A byte count such as `512B`, `64KB` (1000-based), `256KiB` (1024-based), `10MiB`, `1GB`,
    /// or a bare integer meaning bytes; see `ConfigParse.size(_:)`.
    public func size(_ key: String, in range: ClosedRange<Int>? = nil) -> Int? {
        guard let node = presentValue(key) else { return nil }
        guard let text = node.scalar, let value = ConfigParse.size(text) else {
            diagnostics.error(
                "'\(key)' must be a size such as 512B, 64KB, 256KiB or 10MiB, got \(node.summary)",
                at: node.mark)
            return nil
        }
        return checked(value, key: key, node: node, in: range, describe: ConfigParse.sizeText)
    }

    /// Like `size(_:in:)`, with `defaultValue` when the key is absent, malformed or out of range.
    public func size(_ key: String, default defaultValue: Int, in range: ClosedRange<Int>? = nil) -> Int {
        size(key, in: range) ?? defaultValue
    }

    private static func isBareNumber(_ text: String) -> Bool {
        text.contains(where: \.isNumber) && text.allSatisfy { $0.isASCII && ($0.isNumber || $0 == ".") }
    }
}
