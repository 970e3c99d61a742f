/// The deterministic words the mock backend generates.
///
/// Token `i` (from 0) is `words[i % words.count]`; every word starts with a space, so the
/// completion text is the concatenation, e.g. `" alpha bravo charlie"` for three tokens.
public enum MockTokens {
    /// The cycle of words, each with its leading space. Plain ASCII letters: no JSON escaping needed.
    public static let words = [
        " alpha", " bravo", " charlie", " delta", " echo", " foxtrot", " golf", " hotel", " india", " juliet",
    ]

    /// The token at `index` (0-based).
    public static func token(at index: Int) -> String {
        words[index % words.count]
    }

    /// The whole completion text for `count` tokens.
    public static func text(count: Int) -> String {
        (0..<count).map(token(at:)).joined()
    }
}
