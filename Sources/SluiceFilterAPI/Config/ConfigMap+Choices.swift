// Getter for a value that must be one of a fixed set of words.
extension ConfigMap {
    /// One of `T`'s raw values, e.g. `balance: round_robin` for an enum with
    /// `case roundRobin = "round_robin"`. Anything else records an error listing the allowed
    /// values (and the closest one, when the value looks like a typo of it).
    public func oneOf<T: RawRepresentable & CaseIterable>(_ key: String, _ type: T.Type) -> T?
    where T.RawValue == String {
        guard let node = presentValue(key) else { return nil }
        if let text = node.scalar, let value = T(rawValue: text) { return value }
        let allowed = T.allCases.map(\.rawValue)
        var message = "'\(key)' must be one of \(allowed.joined(separator: ", ")); got \(node.summary)"
        if let text = node.scalar, let suggestion = ConfigSuggestion.closest(to: text, among: allowed) {
            message += " (did you mean '\(suggestion)'?)"
        }
        diagnostics.error(message, at: node.mark)
        return nil
    }

    /// Like `oneOf(_:_:)`, with `defaultValue` when the key is absent or its value is not one of the cases.
    public func oneOf<T: RawRepresentable & CaseIterable>(_ key: String, _ type: T.Type, default defaultValue: T) -> T
    where T.RawValue == String {
        oneOf(key, type) ?? defaultValue
    }
}
