#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// Where filters read the time. The engine passes the system clock; tests pass a `ManualClock` and
/// advance it, so time logic (refill, windows, backoff) is tested without sleeping. Any thread.
public protocol SluiceClock: Sendable {
    /// The current instant. Any thread; never goes backwards.
    func now() -> MonotonicInstant
}

/// CLOCK_MONOTONIC.
public struct SystemClock: SluiceClock {
    /// The system's monotonic clock.
    public init() {}
    /// CLOCK_MONOTONIC now.
    public func now() -> MonotonicInstant {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        // The monotonic clock's seconds and nanoseconds are never negative, and its seconds count
        // from boot: the wrapping conversions cannot wrap, and skip the overflow checks of a call
        // made several times per request.
        return MonotonicInstant(nanoseconds: UInt64(truncatingIfNeeded: ts.tv_sec) &* 1_000_000_000
                                    &+ UInt64(truncatingIfNeeded: ts.tv_nsec))
    }
}

/// A clock that moves only when told to. Thread-safe.
public final class ManualClock: SluiceClock {
    private let current: Mutex<MonotonicInstant>
    /// A clock standing at `start` until `advance(by:)` moves it.
    public init(start: MonotonicInstant = MonotonicInstant(nanoseconds: 1_000_000_000)) { current = Mutex(start) }
    /// Where the clock stands.
    public func now() -> MonotonicInstant { current.withLock { $0 } }
    /// Moves the clock forward by `d`. Timers the engine armed are not fired by this: it moves the
    /// time that filters read, for unit tests of time logic.
    public func advance(by d: Duration) { current.withLock { $0 = $0 + d } }
}
