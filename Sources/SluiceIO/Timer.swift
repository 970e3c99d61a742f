import CLibevent

/// A re-armable one-shot timer on an event loop. Loop thread only. Freed (and disarmed) when the
/// last reference goes away, so a timer owned by an exchange dies with it.
public final class Timer {
    // Armed and cancelled several times per request, on the loop thread only: not checked for
    // exclusivity at run time.
    @exclusivity(unchecked) private var event: OpaquePointer?
    @exclusivity(unchecked) private var handler: (Timer) -> Void
    /// Held so the event base outlives this timer's event: `event_free` needs the base alive.
    let loop: EventLoop
    var onCancel: (() -> Void)?
    @exclusivity(unchecked) public private(set) var isArmed = false

    public init(loop: EventLoop, _ handler: @escaping (Timer) -> Void) {
        self.handler = handler
        self.loop = loop
        event = event_new(loop.base, -1, 0, timerTrampoline, Unmanaged.passUnretained(self).toOpaque())
    }

    func setHandler(_ handler: @escaping (Timer) -> Void) { self.handler = handler }

    deinit {
        guard let event else { return }
        // A disarmed timer may die on another thread (an exchange that a filter of another worker
        // held last): freeing an event that is in none of the base's queues touches only the event.
        if isArmed { loop.assertMayTouch("an armed timer") }
        event_free(event)
    }

    /// Arms (or re-arms) the timer to fire once after `delay`.
    public func arm(after delay: Duration) {
        var tv = Self.timeval(delay)
        loop.assertMayTouch("a timer")
        event_add(event, &tv)
        isArmed = true
    }

    /// `delay` as a `timeval` (a negative one as zero). `Duration.components` divides a 128-bit count
    /// of attoseconds in software, most of an arming's cost; a non-negative duration's count splits
    /// into two 64-bit halves that two hardware divisions handle.
    static func timeval(_ delay: Duration) -> timeval {
        let attosPerSecond: UInt64 = 1_000_000_000_000_000_000
        guard delay._high >= 0 else { return CLibevent.timeval(tv_sec: 0, tv_usec: 0) }
        let high = UInt64(delay._high)
        let (wholeHigh, carried) = high.quotientAndRemainder(dividingBy: attosPerSecond)
        let (seconds, attos) = attosPerSecond.dividingFullWidth((high: carried, low: delay._low))
        guard wholeHigh == 0, seconds <= UInt64(Int.max) else { return CLibevent.timeval(tv_sec: Int.max, tv_usec: 0) }
        return CLibevent.timeval(tv_sec: Int(seconds), tv_usec: Int(attos / 1_000_000_000_000))
    }

    /// Disarms the timer; its handler will not run unless armed again.
    public func cancel() {
        guard isArmed else { return }
        loop.assertMayTouch("a timer")
        event_del(event)
        isArmed = false
        onCancel?()
    }

    fileprivate func fire() {
        isArmed = false
        handler(self)
    }
}

private let timerTrampoline: @convention(c) (Int32, Int16, UnsafeMutableRawPointer?) -> Void = { _, _, arg in
    let target = Unmanaged<Timer>.fromOpaque(arg!).takeUnretainedValue()
    // The callee may drop the last other reference; keep it alive for the call.
    withExtendedLifetime(target) { target.loop.dispatch { target.fire() } }
}

