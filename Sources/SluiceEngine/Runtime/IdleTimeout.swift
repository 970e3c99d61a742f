import SluiceFilterAPI
import SluiceIO

/// A timeout that runs while a connection is idle (a keep-alive client between requests, a pooled
/// upstream connection) and does not matter while it is busy. Loop thread only.
///
/// Its libevent timer is left armed across busy spells instead of being disarmed when the connection
/// is taken and armed again when it is idle once more (about 450 instructions per request for each of
/// the two): a connection reused request after request leaves it armed for an earlier deadline, and
/// when it fires it waits on for what is left. Times are the instant the timer was armed for, or the
/// clock when that is later (a test's manual clock does not move).
struct IdleTimeout {
    /// Made at the first `start` by its owner; its handler calls `fired`.
    private var timer: SluiceIO.Timer?
    /// When the timeout runs out; nil while the connection is busy.
    private var deadline: MonotonicInstant?
    /// The instant `timer` is armed for (it may be earlier than `deadline`).
    private var armedFor: MonotonicInstant?

    /// The connection went idle at `now` for `timeout`. `makeTimer` makes the timer the first time;
    /// its handler must call `fired(now:)`.
    mutating func start(_ timeout: Duration, now: MonotonicInstant, makeTimer: () -> SluiceIO.Timer) {
        let due = now + timeout
        deadline = due
        if timer?.isArmed == true { return }
        let timer = self.timer ?? makeTimer()
        self.timer = timer
        armedFor = due
        timer.arm(after: timeout)
    }

    /// The connection is busy: the timeout does not run until the next `start`. The timer stays armed.
    mutating func stop() {
        deadline = nil
    }

    /// Disarms the timer for good (the connection closes).
    mutating func cancel() {
        deadline = nil
        timer?.cancel()
    }

    /// The timer fired: true when the connection has been idle for its whole timeout. Otherwise the
    /// timer is armed again for what is left, or left alone while the connection is busy.
    mutating func fired(now: MonotonicInstant) -> Bool {
        guard let deadline, let armedFor else { return false }
        let now = max(armedFor, now)
        guard deadline > now else { return true }
        self.armedFor = deadline
        timer?.arm(after: deadline.since(now))
        return false
    }
}
