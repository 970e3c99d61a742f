/// Redacts one stream of text that arrives in pieces (one choice's content deltas), finding
/// matches that span pieces.
///
/// Each piece goes through `feed`, which answers the text that is safe to send now: every match
/// that is complete is replaced, and a tail that could still become the start of a match is held
/// back until the next piece shows whether it does. `finish` releases what is held once the text
/// has ended. Sent in order, the answers of `feed` and then `finish` are the whole text with every
/// match replaced, exactly as if it had come in one piece, provided no pattern match is longer
/// than `RedactionRules.maxPatternLength`.
///
/// What is held: for literals, the longest tail that is the beginning of some literal (so `" alp"`
/// is held for the literal `"alpha bravo"`, and `" xyz"` is not); with patterns, also the last
/// `maxPatternLength - 1` characters, since whether a pattern matches there depends on what comes.
/// Matches are taken leftmost first, the longest when several start at the same place, and the
/// replacement is never searched again.
///
/// A value owned by one exchange: use it on the exchange's loop thread only.
public struct RedactionStream {
    private let rules: RedactionRules
    /// Text received but not yet sent, always shorter than `rules.holdBackLimit + 1`.
    public private(set) var held = ""

    /// A stream with nothing held.
    public init(rules: RedactionRules) {
        self.rules = rules
    }

    /// Adds `piece` and answers the text that can be sent now.
    public mutating func feed(_ piece: String) -> String {
        process(held + piece, atEnd: false)
    }

    /// The text has ended: answers what was held, redacted; nothing is held afterwards.
    public mutating func finish() -> String {
        process(held, atEnd: true)
    }

    private mutating func process(_ text: String, atEnd: Bool) -> String {
        var output = ""
        var position = text.startIndex
        let limit = rules.holdBackLimit
        while let match = firstMatch(in: text, from: position) {
            // Unless the text has ended, a match must start far enough from the end that no
            // longer match could start at the same place once more text comes.
            if !atEnd, text.distance(from: match.lowerBound, to: text.endIndex) <= limit,
               couldGrow(text[match.lowerBound...]) {
                break
            }
            output += text[position..<match.lowerBound]
            output += rules.replacement
            position = match.upperBound
        }
        if atEnd {
            output += text[position...]
            held = ""
            return output
        }
        let holdFrom = holdStart(in: text, from: position)
        output += text[position..<holdFrom]
        held = String(text[holdFrom...])
        return output
    }

    /// The leftmost match at or after `start`, the longest among those starting there.
    private func firstMatch(in text: String, from start: String.Index) -> Range<String.Index>? {
        var best: Range<String.Index>?
        func consider(_ range: Range<String.Index>) {
            guard !range.isEmpty else { return }
            if let current = best {
                if range.lowerBound < current.lowerBound
                    || (range.lowerBound == current.lowerBound && range.upperBound > current.upperBound) {
                    best = range
                }
            } else {
                best = range
            }
        }
        let rest = text[start...]
        for literal in rules.literals {
            if let range = rest.firstRange(of: literal) { consider(range) }
        }
        for pattern in rules.patterns {
            if let match = try? pattern.firstMatch(in: rest) { consider(match.range) }
        }
        return best
    }

    /// Whether more text could turn `tail` (which starts with a match) into a longer match.
    private func couldGrow(_ tail: Substring) -> Bool {
        if !rules.patterns.isEmpty { return true }
        return rules.literals.contains { $0.count > tail.count && $0.hasPrefix(tail) }
    }

    /// Where the held tail starts: the earliest place from which more text could still make a match.
    private func holdStart(in text: String, from position: String.Index) -> String.Index {
        var start = text.endIndex
        if !rules.patterns.isEmpty {
            start = text.index(text.endIndex, offsetBy: -rules.holdBackLimit, limitedBy: position) ?? position
        }
        // The longest tail that a literal begins with; no tail longer than the longest literal can be one.
        let longestLiteral = rules.literals.map(\.count).max() ?? 0
        var candidate = text.index(text.endIndex, offsetBy: -max(longestLiteral - 1, 0), limitedBy: position) ?? position
        while candidate < start {
            let tail = text[candidate...]
            if rules.literals.contains(where: { $0.count > tail.count && $0.hasPrefix(tail) }) {
                start = candidate
                break
            }
            candidate = text.index(after: candidate)
        }
        return start
    }
}
