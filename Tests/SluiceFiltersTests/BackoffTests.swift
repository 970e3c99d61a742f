import SluiceFilters
import Testing

/// `Backoff`: exponential ceilings with full jitter, randomness chosen by the test.
struct BackoffTests {
    /// A deterministic generator (a 64-bit linear congruential one): the same seed, the same waits.
    struct SeededGenerator: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return state ^ (state >> 29)
        }
    }

    @Test func ceilingDoublesPerRetryUpToTheMaximum() {
        let backoff = Backoff(base: .milliseconds(100), maximum: .seconds(1))
        #expect((1...6).map(backoff.ceiling(forRetry:)) == [
            .milliseconds(100), .milliseconds(200), .milliseconds(400), .milliseconds(800), .seconds(1), .seconds(1),
        ])
        #expect(backoff.ceiling(forRetry: 0) == .milliseconds(100))
        #expect(backoff.ceiling(forRetry: Int.max) == .seconds(1))
    }

    @Test func aMaximumBelowTheBaseReadsAsTheBase() {
        let backoff = Backoff(base: .seconds(2), maximum: .seconds(1))
        #expect(backoff.ceiling(forRetry: 3) == .seconds(2))
    }

    @Test func fullJitterSpansZeroToTheCeiling() {
        let backoff = Backoff(base: .milliseconds(100), maximum: .seconds(10))
        #expect(backoff.delay(forRetry: 2, fraction: 0) == .zero)
        #expect(backoff.delay(forRetry: 2, fraction: 0.5) == .milliseconds(100))
        #expect(backoff.delay(forRetry: 2, fraction: 1) == .milliseconds(200))
        #expect(backoff.delay(forRetry: 2, fraction: 7) == .milliseconds(200))
        #expect(backoff.delay(forRetry: 2, fraction: -1) == .zero)
    }

    @Test func randomDelaysStayWithinTheCeilingAndFollowTheGenerator() {
        let backoff = Backoff(base: .milliseconds(100), maximum: .seconds(10))
        var generator = SeededGenerator(state: 42)
        var first: [Duration] = []
        for _ in 0..<200 {
            let d = backoff.delay(forRetry: 3, using: &generator)
            #expect(d >= .zero && d <= .milliseconds(400))
            first.append(d)
        }
        // Jitter: the waits spread over the interval instead of being one fixed value.
        #expect(Set(first).count > 100)
        #expect(first.contains { $0 < .milliseconds(100) } && first.contains { $0 > .milliseconds(300) })
        // The randomness is the generator's: the same seed gives the same waits.
        var again = SeededGenerator(state: 42)
        let repeated = (0..<200).map { _ in backoff.delay(forRetry: 3, using: &again) }
        #expect(repeated == first)
        var system = SystemRandomNumberGenerator()
        for n in 1...20 {
            let d = backoff.delay(forRetry: n, using: &system)
            #expect(d >= .zero && d <= backoff.ceiling(forRetry: n))
        }
    }
}
