#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// Where filters read the time. The engine passes the system clock; tests pass a `ManualClock` and
/// advance it, so time logic (refill, windows, backoff) is tested without sleeping. Any thread.
public protocol SluiceClock: Sendable {
    func now() -> MonotonicInstant
}

/// CLOCK_MONOTONIC.
public struct SystemClock: SluiceClock {
    public init() {}
    public func now() -> MonotonicInstant {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return MonotonicInstant(nanoseconds: UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec))
    }
}

/// A clock that moves only when told to. Thread-safe.
public final class ManualClock: SluiceClock {
    private let current: Mutex<MonotonicInstant>
    public init(start: MonotonicInstant = MonotonicInstant(nanoseconds: 1_000_000_000)) { current = Mutex(start) }
    public func now() -> MonotonicInstant { current.withLock { $0 } }
    public func advance(by d: Duration) { current.withLock { $0 = $0 + d } }
}
