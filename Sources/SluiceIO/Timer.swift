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
        let (seconds, attos) = delay.components
        var tv = timeval(tv_sec: Int(max(0, seconds)), tv_usec: Int(max(0, attos) / 1_000_000_000_000))
        loop.assertMayTouch("a timer")
        event_add(event, &tv)
        isArmed = true
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

