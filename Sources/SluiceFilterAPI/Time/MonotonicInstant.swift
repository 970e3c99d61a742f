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
