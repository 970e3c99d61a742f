#if canImport(Glibc)
import Glibc
#endif

/// A one-way gate: it opens when `countDown()` has been called `count` times, and stays open;
/// `wait` blocks until it is open. Any thread.
///
/// Built on a pthread mutex and condition variable, not on Dispatch: the engine's control paths
/// (reload, stop) wait on it, and they must work when the process has no file descriptor left,
/// which libdispatch's lazy set-up needs.
public final class Latch: @unchecked Sendable {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let condition: UnsafeMutablePointer<pthread_cond_t>
    private var remaining: Int

    /// A gate that opens after `count` calls of `countDown()` (at once when `count` is 0).
    public init(count: Int = 1) {
        remaining = max(0, count)
        mutex = .allocate(capacity: 1)
        pthread_mutex_init(mutex, nil)
        condition = .allocate(capacity: 1)
        var attributes = pthread_condattr_t()
        pthread_condattr_init(&attributes)
        pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC)
        pthread_cond_init(condition, &attributes)
        pthread_condattr_destroy(&attributes)
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        condition.deallocate()
        mutex.deallocate()
    }

    /// One step towards opening; calls past the count do nothing.
    public func countDown() {
        pthread_mutex_lock(mutex)
        if remaining > 0 {
            remaining -= 1
            if remaining == 0 { pthread_cond_broadcast(condition) }
        }
        pthread_mutex_unlock(mutex)
    }

    /// Blocks until the gate is open.
    public func wait() {
        pthread_mutex_lock(mutex)
        while remaining > 0 { pthread_cond_wait(condition, mutex) }
        pthread_mutex_unlock(mutex)
    }

    /// Blocks until the gate is open or `timeout` has passed; answers whether it is open.
    @discardableResult
    public func wait(timeout: Duration) -> Bool {
        var deadline = timespec()
        clock_gettime(CLOCK_MONOTONIC, &deadline)
        let (seconds, attoseconds) = timeout.components
        let nanoseconds = Int(deadline.tv_nsec) + Int(attoseconds / 1_000_000_000)
        deadline.tv_sec += Int(seconds) + nanoseconds / 1_000_000_000
        deadline.tv_nsec = nanoseconds % 1_000_000_000
        pthread_mutex_lock(mutex)
        while remaining > 0 {
            if pthread_cond_timedwait(condition, mutex, &deadline) == ETIMEDOUT { break }
        }
        let open = remaining == 0
        pthread_mutex_unlock(mutex)
        return open
    }
}
