/// The pauses between reconnection attempts: `first`, then doubling up to `limit`, each shortened by
/// a random part of up to `jitter` of itself so that many workers and instances that lost the same
/// server do not all come back in the same millisecond. Pure: the random fraction is a parameter.
public struct ReconnectBackoff: Sendable, Equatable {
    public var first: Duration
    public var limit: Duration
    /// 0 to 1: the largest share of a pause taken off at random.
    public var jitter: Double

    public init(first: Duration = .milliseconds(100), limit: Duration = .seconds(2), jitter: Double = 0.2) {
        self.first = first
        self.limit = max(first, limit)
        self.jitter = min(max(jitter, 0), 1)
    }

    /// The pause after `failures` consecutive failed attempts (1 or more); `random` in 0..<1.
    public func delay(afterFailures failures: Int, random: Double) -> Duration {
        let doublings = min(max(failures - 1, 0), 30)
        var base = first
        for _ in 0..<doublings {
            base = base * 2
            if base >= limit { base = limit; break }
        }
        return base * (1 - jitter * min(max(random, 0), 1))
    }
}
