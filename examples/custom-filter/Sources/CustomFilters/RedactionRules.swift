/// What `stream_redaction` removes: literal strings and regular expressions, and what it writes
/// in their place. Immutable; shared by every worker thread.
public struct RedactionRules: @unchecked Sendable {
    // `Regex` is not `Sendable`; these are compiled once and only read afterwards (matching does
    // not mutate a regex), so sharing them across threads is safe.

    /// Strings removed exactly as written (case-sensitive), none empty.
    public let literals: [String]
    /// Patterns removed wherever they match.
    public let patterns: [Regex<AnyRegexOutput>]
    /// The longest text a pattern may match, in characters. A pattern's match is looked for only
    /// within this many characters of where it starts, so it is also the most text held back.
    public let maxPatternLength: Int
    /// What replaces each match.
    public let replacement: String

    /// Rules from their parts; `literals` must not contain an empty string.
    public init(literals: [String], patterns: [Regex<AnyRegexOutput>] = [], maxPatternLength: Int = 64, replacement: String) {
        self.literals = literals
        self.patterns = patterns
        self.maxPatternLength = maxPatternLength
        self.replacement = replacement
    }

    /// The most characters a stream holds back between two events: one less than the longest
    /// possible match.
    var holdBackLimit: Int {
        max(literals.map(\.count).max() ?? 0, patterns.isEmpty ? 0 : maxPatternLength) - 1
    }
}
