import CLibevent

/// Delivers a POSIX signal as a callback on a loop thread (libevent's self-pipe), instead of in a
/// signal handler. Loop thread only; keep the watcher alive as long as the signal matters.
public final class SignalWatcher {
    private var event: OpaquePointer?
    private let handler: () -> Void
    /// Held so the event base outlives this event.
    private let loop: EventLoop

    public init(loop: EventLoop, signal: Int32, _ handler: @escaping () -> Void) {
        self.handler = handler
        self.loop = loop
        event = event_new(loop.base, signal, Int16(EV_SIGNAL | EV_PERSIST), signalTrampoline, Unmanaged.passUnretained(self).toOpaque())
        event_add(event, nil)
    }

    deinit { if let event { event_free(event) } }

    fileprivate func fire() { handler() }
}

private let signalTrampoline: @convention(c) (Int32, Int16, UnsafeMutableRawPointer?) -> Void = { _, _, arg in
    let target = Unmanaged<SignalWatcher>.fromOpaque(arg!).takeUnretainedValue()
    // The callee may drop the last other reference; keep it alive for the call.
    withExtendedLifetime(target) { target.fire() }
}
