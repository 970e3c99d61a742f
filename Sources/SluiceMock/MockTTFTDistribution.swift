#if canImport(Glibc)
import Glibc
#endif

/// Where each request's time to first token comes from, when it is not one fixed value: a
/// weighted list of values, or a lognormal around a median. The mock server draws one value per
/// request from a generator seeded by `MockSettings.seed` (`MockRandom`), so a run with the same
/// seed and the same request order sees the same times.
///
/// Written in the `ttft` setting:
/// - `80ms:9,1.5s:1`: 80ms nine times in ten, 1.5s once in ten (each weight a whole number ≥ 1);
/// - `lognormal:200ms:0.8`: median 200ms, sigma 0.8 (the standard deviation of the time's
///   natural logarithm, 0…5): a long right tail.
public enum MockTTFTDistribution: Sendable, Equatable {
    /// One value and its weight in a weighted list.
    public struct Weighted: Sendable, Equatable {
        public var value: Duration
        public var weight: Int
        public init(value: Duration, weight: Int) {
            self.value = value
            self.weight = weight
        }
    }

    case weighted([Weighted])
    case lognormal(median: Duration, sigma: Double)

    /// The middle value: the median of a lognormal, the value with half the weight at or below it
    /// for a list. What `MockSettings.timeToFirstToken` reports for a distribution.
    public var median: Duration {
        switch self {
        case .lognormal(let median, _):
            return median
        case .weighted(let items):
            let sorted = items.sorted { $0.value < $1.value }
            let total = sorted.reduce(0) { $0 + $1.weight }
            var seen = 0
            for item in sorted {
                seen += item.weight
                if seen * 2 >= total { return item.value }
            }
            return sorted.last?.value ?? .zero
        }
    }

    /// One draw. The lognormal's draws are capped at a day, as every mock duration is.
    public func draw(using generator: inout some RandomNumberGenerator) -> Duration {
        switch self {
        case .weighted(let items):
            let total = items.reduce(0) { $0 + $1.weight }
            var pick = Int.random(in: 0..<max(total, 1), using: &generator)
            for item in items {
                if pick < item.weight { return item.value }
                pick -= item.weight
            }
            return items.last?.value ?? .zero
        case .lognormal(let median, let sigma):
            // Box–Muller: one standard normal from two uniforms; 1 - u keeps log's argument above 0.
            let u1 = 1 - Double.random(in: 0..<1, using: &generator)
            let u2 = Double.random(in: 0..<1, using: &generator)
            let normal = (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2)
            let medianNanoseconds = Double(median.components.seconds) * 1e9 + Double(median.components.attoseconds) / 1e9
            let nanoseconds = min(medianNanoseconds * exp(sigma * normal), 86_400e9)
            return .nanoseconds(Int64(nanoseconds.rounded()))
        }
    }

    /// Reads a distribution as the `ttft` setting writes one; nil when `text` is not one (it may
    /// still be a plain duration). `failure` says what is wrong with one that looks like one.
    static func parse(_ text: Substring) -> Result<MockTTFTDistribution, MockValueError>? {
        if text.hasPrefix("lognormal:") {
            let parts = text.dropFirst("lognormal:".count).split(separator: ":", omittingEmptySubsequences: false)
            let expected = MockValueError("expected lognormal:<median>:<sigma> such as lognormal:200ms:0.8, got \"\(text)\"")
            guard parts.count == 2, case .success(let median) = MockValueParser.duration(parts[0]), median > .zero,
                  let sigma = Double(parts[1]), parts[1].allSatisfy({ $0.isNumber || $0 == "." }), (0...5).contains(sigma) else {
                return .failure(expected)
            }
            return .success(.lognormal(median: median, sigma: sigma))
        }
        guard text.contains(":") else { return nil }
        var items: [Weighted] = []
        for entry in text.split(separator: ",", omittingEmptySubsequences: false) {
            let parts = entry.split(separator: ":", omittingEmptySubsequences: false)
            guard parts.count == 2, case .success(let value) = MockValueParser.duration(parts[0]),
                  case .success(let weight) = MockValueParser.count(parts[1]), weight >= 1 else {
                return .failure(MockValueError(
                    "expected weighted values such as 80ms:9,1.5s:1 (a duration and a whole weight of at least 1 each), got \"\(entry)\""))
            }
            items.append(Weighted(value: value, weight: weight))
        }
        return .success(.weighted(items))
    }
}

/// A small seeded generator (SplitMix64): the same seed gives the same draws on every machine,
/// which `SystemRandomNumberGenerator` cannot. Not for anything secret.
public struct MockRandom: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
