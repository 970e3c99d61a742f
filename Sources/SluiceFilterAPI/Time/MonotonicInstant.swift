/// A point on a monotonic clock, in nanoseconds from an arbitrary origin. Only differences mean anything.
public struct MonotonicInstant: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// Nanoseconds from the clock's origin.
    public var nanoseconds: UInt64
    /// The instant `nanoseconds` after the origin.
    public init(nanoseconds: UInt64) { self.nanoseconds = nanoseconds }

    /// True when `a` comes before `b`.
    public static func < (a: Self, b: Self) -> Bool { a.nanoseconds < b.nanoseconds }

    /// The time from `earlier` to `self`; zero when `earlier` is later.
    public func since(_ earlier: MonotonicInstant) -> Duration {
        nanoseconds >= earlier.nanoseconds ? .nanoseconds(Int64(nanoseconds - earlier.nanoseconds)) : .zero
    }

    /// The instant `d` after `a` (before it for a negative `d`, never before the origin).
    public static func + (a: Self, d: Duration) -> Self {
        let n = d.nanosecondsClamped
        return n >= 0 ? Self(nanoseconds: a.nanoseconds &+ UInt64(n)) : Self(nanoseconds: a.nanoseconds &- min(a.nanoseconds, UInt64(-n)))
    }

    /// The nanoseconds, e.g. `1500000000ns`.
    public var description: String { "\(nanoseconds)ns" }
}

extension Duration {
    /// The duration in whole nanoseconds, clamped to Int64.
    public var nanosecondsClamped: Int64 {
        // A non-negative duration (every timer and timing here) is divided as two 64-bit halves of its
        // attoseconds, in hardware; `components` divides the 128-bit count in software.
        if _high >= 0 {
            let attosPerNanosecond: UInt64 = 1_000_000_000
            let (wholeHigh, carried) = UInt64(_high).quotientAndRemainder(dividingBy: attosPerNanosecond)
            let (nanoseconds, _) = attosPerNanosecond.dividingFullWidth((high: carried, low: _low))
            guard wholeHigh == 0, nanoseconds <= UInt64(Int64.max) else { return .max }
            return Int64(nanoseconds)
        }
        let (s, a) = components
        let (scaled, overflow) = s.multipliedReportingOverflow(by: 1_000_000_000)
        if overflow { return s < 0 ? .min : .max }
        return scaled &+ a / 1_000_000_000
    }

    /// Seconds as a Double, for rates and reporting.
    public var seconds: Double {
        let (s, a) = components
        return Double(s) + Double(a) / 1e18
    }
}
