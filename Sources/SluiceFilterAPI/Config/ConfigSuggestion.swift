/// Finds the known name a mistyped name was probably meant to be, for `did you mean` hints.
public enum ConfigSuggestion {
    /// The candidate closest to `name` by edit distance, when it is close enough to be a typo
    /// (one edit for names of up to four characters, a third of the length for longer ones).
    /// Case differences and `-` written for `_` (or the reverse) count as no distance at all.
    /// Returns nil when nothing is close, or when `name` is itself a candidate.
    public static func closest(to name: String, among candidates: [String]) -> String? {
        guard !candidates.contains(name) else { return nil }
        let normalizedName = normalized(name)
        var best: (candidate: String, distance: Int)?
        for candidate in candidates {
            let distance = editDistance(normalizedName, normalized(candidate))
            if distance < (best?.distance ?? Int.max) { best = (candidate, distance) }
        }
        guard let best else { return nil }
        let allowed = max(1, name.count <= 4 ? 1 : name.count / 3)
        return best.distance <= allowed ? best.candidate : nil
    }

    private static func normalized(_ name: String) -> [Character] {
        Array(name.lowercased().map { $0 == "-" ? "_" : $0 })
    }

    /// Edit distance counting insertions, deletions, substitutions and swaps of two adjacent
    /// characters (the commonest typo: `chian`) as one edit each.
    private static func editDistance(_ a: [Character], _ b: [Character]) -> Int {
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        // distances[i][j]: edits turning the first i characters of a into the first j of b.
        var distances = [[Int]](repeating: [Int](repeating: 0, count: b.count + 1), count: a.count + 1)
        for i in 0...a.count { distances[i][0] = i }
        for j in 0...b.count { distances[0][j] = j }
        for i in 1...a.count {
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                var best = min(distances[i - 1][j] + 1, distances[i][j - 1] + 1, distances[i - 1][j - 1] + cost)
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
                    best = min(best, distances[i - 2][j - 2] + 1)
                }
                distances[i][j] = best
            }
        }
        return distances[a.count][b.count]
    }
}
