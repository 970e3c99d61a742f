import CLibevent
import Synchronization

/// One libevent `event_base` driven by one thread. Everything created on a loop (bufferevents, timers,
/// listeners) belongs to that loop's thread and must be touched only there; `execute(_:)` is the one
/// member that may be called from any thread.
public final class EventLoop: @unchecked Sendable {
    /// The `event_base`. Owned by this loop and freed with it.
    let base: OpaquePointer
    /// Non-blocking DNS for `BufferEvent.connect(host:port:)`. Created lazily on the loop thread.
    private var dnsBaseStorage: OpaquePointer?
    private let mailbox = Mutex<[@Sendable () -> Void]>([])
    /// The eventfd `execute` rings when it puts the first job in an empty mailbox.
    private let doorbell: Int32
    private var wakeEvent: OpaquePointer?
    /// Activated once per loop turn in which a socket staged bytes; runs after that turn's callbacks.
    private var flushEvent: OpaquePointer?
    // Loop thread only, and never passed inout: not checked for exclusivity at run time (per event).
    @exclusivity(unchecked) private var flushQueue: [BufferEvent] = []
    /// The queue being flushed; swapped with `flushQueue` so neither is reallocated per turn.
    @exclusivity(unchecked) private var flushing: [BufferEvent] = []
    /// `atEndOfTurn`'s work for this turn.
    @exclusivity(unchecked) private var endOfTurnJobs: [() -> Void] = []
    /// A libevent callback runs (`dispatch`): staged writes go out when it returns.
    @exclusivity(unchecked) private var inCallback = false
    /// `flushEvent` is active: `runFlushes` runs at the end of this loop turn.
    @exclusivity(unchecked) private var flushEventActive = false
    private var pendingTimers: [ObjectIdentifier: Timer] = [:]
    /// Where plain TCP sockets on this loop read into (`BufferEvent.readRaw`); one read at a time,
    /// offered to its owner in place, so no socket keeps read memory of its own between reads.
    /// 16 KiB, libevent's own most per read: what one read may take past a watermark stays as it was.
    let readScratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 16 * 1024, alignment: 16)
    private let finished = Latch()
    private let runner = Mutex<pthread_t?>(nil)

    /// Must be read once before any loop is created: SIGPIPE ignored, the control signals unblocked.
    ///
    /// libevent's own locks stay off (no `evthread_use_pthreads`): a base and everything on it is
    /// touched only by the loop's thread (checked in debug builds, `assertMayTouch`), and the one
    /// way in from other threads, `execute`, rings an eventfd of the loop's own. The locks cost
    /// about 250 instructions per forwarded event, taken and released around every event operation.
    public static let threadingReady: Bool = {
        sluice_ignore_sigpipe()
        sluice_unblock_control_signals()
        return true
    }()

    public init() {
        precondition(EventLoop.threadingReady, "libevent pthreads support is unavailable")
        let cfg = event_config_new()
        // Timer precision matters more than the tiny cost of reading the clock on every loop turn.
        event_config_set_flag(cfg, Int32(EVENT_BASE_FLAG_PRECISE_TIMER.rawValue))
        guard let made = event_base_new_with_config(cfg) else { fatalError("event_base_new failed") }
        event_config_free(cfg)
        base = made
        doorbell = sluice_doorbell_new()
        precondition(doorbell >= 0, "eventfd failed: \(String(cString: strerror(sluice_errno())))")
        wakeEvent = event_new(base, doorbell, Int16(EV_READ | EV_PERSIST), eventLoopWakeTrampoline,
                              Unmanaged.passUnretained(self).toOpaque())
        event_add(wakeEvent, nil)
        flushEvent = event_new(base, -1, 0, eventLoopFlushTrampoline, Unmanaged.passUnretained(self).toOpaque())
    }

    deinit {
        for t in pendingTimers.values { t.cancel() }
        if let wakeEvent { event_free(wakeEvent) }
        if let flushEvent { event_free(flushEvent) }
        if let dnsBaseStorage { evdns_base_free(dnsBaseStorage, 0) }
        event_base_free(base)
        sluice_close(doorbell)
        readScratch.deallocate()
    }

    /// The loop's DNS resolver (reads /etc/resolv.conf and /etc/hosts once).
    var dnsBase: OpaquePointer? {
        if dnsBaseStorage == nil {
            dnsBaseStorage = evdns_base_new(base, Int32(EVDNS_BASE_INITIALIZE_NAMESERVERS | EVDNS_BASE_DISABLE_WHEN_INACTIVE))
        }
        return dnsBaseStorage
    }

    /// Unblocks SIGTERM, SIGINT and SIGHUP for the calling thread and the threads it starts later.
    public static func unblockControlSignals() { sluice_unblock_control_signals() }

    /// Runs the loop on the calling thread until `stop()` is called, even while it has nothing to watch.
    public func run() {
        runner.withLock { $0 = pthread_self() }
        // Without NO_EXIT_ON_EMPTY the loop would return as soon as a draining worker closed its last
        // listener and connection, and jobs sent with `execute` would never run.
        event_base_loop(base, Int32(EVLOOP_NO_EXIT_ON_EMPTY))
        // Timers hold their loop; drop the ones still pending so the loop can be freed.
        let pending = pendingTimers.values
        pendingTimers = [:]
        for t in pending { t.onCancel = nil; t.cancel() }
        runner.withLock { $0 = nil }
        finished.countDown()
    }

    /// True when called from the thread running this loop.
    public var isLoopThread: Bool {
        runner.withLock { owner in owner.map { pthread_equal($0, pthread_self()) != 0 } ?? false }
    }

    /// Debug builds: traps when the calling thread may not touch this loop's libevent objects, that
    /// is, when the loop runs on another thread. (Before `run` and after it returned, the thread
    /// that owns the loop may set it up or tear it down.) libevent takes no locks of its own here.
    @inline(__always)
    func assertMayTouch(_ what: @autoclosure () -> String) {
        assert(runner.withLock { owner in owner.map { pthread_equal($0, pthread_self()) != 0 } ?? true },
               "\(what()) touched from a thread other than its running loop's")
    }

    /// Waits until `run()` has returned (after `stop()`), so nothing of this loop runs any more. Never
    /// waits on the loop's own thread. Returns false on timeout.
    @discardableResult
    public func waitUntilFinished(timeout: Duration) -> Bool {
        if isLoopThread { return true }
        return finished.wait(timeout: timeout)
    }

    /// Stops `run()` at the end of the current loop turn. Any thread.
    public func stop() {
        execute { [self] in event_base_loopbreak(base) }
    }

    /// Runs `body` on the loop's thread, soon. Any thread; FIFO among calls from one thread.
    public func execute(_ body: @escaping @Sendable () -> Void) {
        let first = mailbox.withLock { jobs in
            jobs.append(body)
            return jobs.count == 1
        }
        // Jobs already waiting have rung the bell, and the loop takes them all at once.
        if first { sluice_doorbell_ring(doorbell) }
    }

    /// Hands `socket`'s staged bytes on when the callback running now returns (`dispatch`), so what
    /// one callback writes to one socket goes out as one write; outside a callback, at the end of
    /// the loop turn. Loop thread only.
    func flushLater(_ socket: BufferEvent) {
        if !inCallback { activateFlushEvent() }
        flushQueue.append(socket)
    }

    /// Runs a libevent callback's `body`, then flushes what it staged. Activating an event to flush
    /// at the end of the turn instead cost a second pass through libevent's queue per forwarded
    /// event (about 250 instructions). A callback run from inside another (libevent calls some
    /// synchronously) leaves the flush to the outer one. Loop thread only.
    @inline(__always)
    func dispatch(_ body: () -> Void) {
        if inCallback {
            body()
            return
        }
        inCallback = true
        body()
        // A flush may make more writes (`onWritable`): they queue here and go in this loop.
        while !flushQueue.isEmpty { flushQueued() }
        inCallback = false
    }

    private func activateFlushEvent() {
        guard !flushEventActive else { return }
        flushEventActive = true
        event_active(flushEvent, Int32(EV_READ), 0)
    }

    private func flushQueued() {
        // Most callbacks write to one socket: taken off the queue without swapping the lists.
        if flushQueue.count == 1 {
            flushQueue.removeLast().flushQueued()
            return
        }
        swap(&flushing, &flushQueue)
        for socket in flushing { socket.flushQueued() }
        flushing.removeAll(keepingCapacity: true)
    }

    /// Runs `body` after the callbacks already due in this loop turn, just before the turn's staged
    /// writes go out, so what it writes leaves in the same turn. Loop thread only; use it to gather
    /// a turn's work into one piece (the shared store's scripts).
    public func atEndOfTurn(_ body: @escaping () -> Void) {
        activateFlushEvent()
        endOfTurnJobs.append(body)
    }

    /// The end of the loop turn (`flushEvent`, run through `dispatch`): the turn's gathered jobs,
    /// then (as `dispatch` returns) the writes staged outside callbacks and by the jobs.
    fileprivate func runFlushes() {
        flushEventActive = false
        if !endOfTurnJobs.isEmpty {
            let jobs = endOfTurnJobs
            endOfTurnJobs = []
            for job in jobs { job() }
        }
    }

    fileprivate func drainMailbox() {
        // Quieted before the jobs are taken: a job put in after this rings again.
        sluice_doorbell_quiet(doorbell)
        let jobs = mailbox.withLock { jobs -> [@Sendable () -> Void] in
            let taken = jobs
            jobs.removeAll(keepingCapacity: true)
            return taken
        }
        for job in jobs { job() }
    }

    /// Runs `body` once on the loop thread after `delay`. The loop keeps the timer alive until it fires
    /// or is cancelled. Loop thread only.
    @discardableResult
    public func schedule(after delay: Duration, _ body: @escaping () -> Void) -> Timer {
        let timer = Timer(loop: self) { _ in }
        let id = ObjectIdentifier(timer)
        timer.setHandler { [unowned self] _ in
            self.pendingTimers[id] = nil
            body()
        }
        timer.onCancel = { [unowned self] in self.pendingTimers[id] = nil }
        pendingTimers[id] = timer
        timer.arm(after: delay)
        return timer
    }

    /// Runs `body` on the loop thread after the current callback returns. Loop thread only; use it to
    /// step out of a C callback before doing something that may free the object being called.
    public func soon(_ body: @escaping () -> Void) {
        schedule(after: .zero, body)
    }

    /// The loop's cached monotonic time, in nanoseconds. Cheap; updated once per loop turn.
    public var cachedNow: UInt64 {
        var tv = timeval()
        event_base_gettimeofday_cached(base, &tv)
        return UInt64(tv.tv_sec) &* 1_000_000_000 &+ UInt64(tv.tv_usec) &* 1000
    }
}

private let eventLoopWakeTrampoline: @convention(c) (Int32, Int16, UnsafeMutableRawPointer?) -> Void = { _, _, arg in
    let target = Unmanaged<EventLoop>.fromOpaque(arg!).takeUnretainedValue()
    // The callee may drop the last other reference; keep it alive for the call.
    withExtendedLifetime(target) { target.dispatch { target.drainMailbox() } }
}
private let eventLoopFlushTrampoline: @convention(c) (Int32, Int16, UnsafeMutableRawPointer?) -> Void = { _, _, arg in
    let target = Unmanaged<EventLoop>.fromOpaque(arg!).takeUnretainedValue()
    withExtendedLifetime(target) { target.dispatch { target.runFlushes() } }
}
