import SluiceFilterAPI

/// Exponential backoff with full jitter: the wait before retry `n` (1 for the first retry) is a
/// random time from zero to `ceiling(forRetry: n)`, which is `base × 2^(n − 1)`, at most `maximum`.
///
/// Full jitter spreads the retries of many requests that failed together over the whole interval,
/// so they do not hit the upstream again in one burst. Pure: the randomness is passed in, so tests
/// choose it.
public struct Backoff: Sendable, Equatable {
    public var base: Duration
    /// The largest ceiling; a value below `base` is read as `base`.
    public var maximum: Duration

    public init(base: Duration, maximum: Duration) {
        self.base = base
        self.maximum = maximum
    }

    /// `base × 2^(n − 1)`, at most `maximum` (`base` for n ≤ 1), without overflowing for large n.
    public func ceiling(forRetry n: Int) -> Duration {
        let start = max(base.nanosecondsClamped, 0)
        let cap = max(maximum.nanosecondsClamped, start)
        var nanos = start
        var doublings = max(n - 1, 0)
        while doublings > 0 && nanos < cap {
            nanos = nanos > cap / 2 ? cap : nanos * 2
            doublings -= 1
        }
        return .nanoseconds(min(nanos, cap))
    }

    /// The wait for a `fraction` (0…1, clamped) of the way up to the ceiling.
    public func delay(forRetry n: Int, fraction: Double) -> Duration {
        let ceiling = ceiling(forRetry: n).nanosecondsClamped
        let f = fraction.isNaN ? 0 : min(max(fraction, 0), 1)
        return .nanoseconds(Int64((Double(ceiling) * f).rounded(.down)))
    }

    /// A wait drawn uniformly from zero to the ceiling, both included.
    public func delay(forRetry n: Int, using generator: inout some RandomNumberGenerator) -> Duration {
        .nanoseconds(Int64.random(in: 0...ceiling(forRetry: n).nanosecondsClamped, using: &generator))
    }
}
