/// A parsed config value with its position in the file.
///
/// This is the format-neutral tree that readers such as `ConfigMap` work on; the YAML loader
/// builds it, and tests or embedders can build one by hand. Scalars keep their source text:
/// deciding whether `30s` is a duration or `8080` a port is the reader's job, not the parser's.
public struct ConfigNode: Sendable {
    /// One `key: value` pair of a mapping, with the position of the key itself.
    public typealias Entry = (key: String, keyMark: SourceMark, value: ConfigNode)

    /// The shape of a node.
    public enum Value: Sendable {
        /// Nothing was written (`key:`), or `~` / `null` unquoted.
        case null
        /// The scalar's text as written, without quotes.
        case scalar(String)
        case sequence([ConfigNode])
        /// Entries in file order. The YAML loader guarantees keys are unique.
        case mapping([Entry])
    }

    /// The value as parsed.
    public var value: Value
    /// Where the value starts: the first character of a scalar, the `[`/`{` of a flow
    /// collection, the first `-` or key of a block collection.
    public var mark: SourceMark
    /// True when the scalar was written as text on purpose (quoted, a `|`/`>` block scalar, or
    /// tagged `!!str`), so `"123"` can be told from `123` where it matters: typed getters
    /// such as `ConfigMap.int` refuse quoted numbers.
    public var isQuotedScalar: Bool

    /// A node built by hand (a loader for another format, or a test).
    public init(value: Value, mark: SourceMark, isQuotedScalar: Bool = false) {
        self.value = value
        self.mark = mark
        self.isQuotedScalar = isQuotedScalar
    }

    /// True for `.null`: the key was written without a value.
    public var isNull: Bool {
        if case .null = value { return true }
        return false
    }

    /// The scalar's text, or nil for null and collections.
    public var scalar: String? {
        if case .scalar(let text) = value { return text }
        return nil
    }

    /// The items, or nil when this is not a sequence.
    public var sequence: [ConfigNode]? {
        if case .sequence(let items) = value { return items }
        return nil
    }

    /// The entries, or nil when this is not a mapping.
    public var mapping: [Entry]? {
        if case .mapping(let entries) = value { return entries }
        return nil
    }

    /// The value under `key` when this is a mapping that has it. A plain lookup: it does not
    /// count as reading the key for `ConfigMap.finish()`.
    public subscript(key: String) -> ConfigNode? {
        mapping?.first { $0.key == key }?.value
    }

    /// What was written, for error messages: `null`, `a list`, `a mapping`, `'text'`, or
    /// `the string "text"` for a quoted scalar. Long text is shortened.
    public var summary: String {
        switch value {
        case .null:
            return "nothing"
        case .sequence:
            return "a list"
        case .mapping:
            return "a mapping"
        case .scalar(let text):
            // Messages stay one line and readable even when someone pastes a certificate.
            let firstLine = text.split(separator: "\n", omittingEmptySubsequences: false).first ?? ""
            var shown = String(firstLine.prefix(60))
            if shown.count < text.count { shown += "…" }
            return isQuotedScalar ? "the string \"\(shown)\"" : "'\(shown)'"
        }
    }
}
