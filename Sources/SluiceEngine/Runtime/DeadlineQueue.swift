import SluiceFilterAPI
import SluiceIO

/// Every timer the filters of one worker's exchanges scheduled (`Exchange.schedule`), in one min-heap
/// on one libevent timer armed for the earliest. Loop thread only.
///
/// Why one per worker: a request with the eight built-in filters schedules two timers (`timeouts`'
/// deadline, `connection_manager`'s `max_age`) and moves one. A libevent timer per exchange was armed,
/// disarmed and freed for each request, about 3,000 instructions of a short request's. Here a
/// schedule is a heap insertion, and the libevent timer is touched only when an entry becomes the
/// earliest of the whole worker, which a steady stream of requests with the same delays never does.
///
/// An entry cancelled or moved later leaves the libevent timer armed early: it then fires, finds
/// nothing due and is armed for the earliest entry left. Entries due at one instant run in the order
/// they were scheduled (or last moved); an entry scheduled or moved by a body waits for the next firing,
/// so a body that reschedules itself at zero delay cannot hold the loop.
final class DeadlineQueue: ExchangeTimerHome {
    private let loop: EventLoop
    private let clock: any SluiceClock
    /// Pending timers as a binary min-heap on (due, order); each knows its slot, so a cancel is a
    /// removal in place rather than a search.
    @exclusivity(unchecked) private var heap: [ExchangeTimer] = []
    @exclusivity(unchecked) private var timer: SluiceIO.Timer?
    /// The instant the libevent timer is armed for; nil while it is not armed.
    @exclusivity(unchecked) private var armedFor: MonotonicInstant?
    @exclusivity(unchecked) private var scheduled: UInt64 = 0

    init(loop: EventLoop, clock: any SluiceClock) {
        self.loop = loop
        self.clock = clock
    }

    /// Entries pending, for tests and the worker's shutdown.
    var pendingCount: Int { heap.count }

    /// A new timer that runs `body` through `runner` for filter `owner` after `delay`.
    func schedule(after delay: Duration, owner: Int?, runner: any ExchangeTimerRunner, _ body: ExchangeTimerBody) -> ExchangeTimer {
        let timer = ExchangeTimer(home: self, owner: owner, runner: runner, body: body)
        arm(timer, after: delay)
        return timer
    }

    /// Takes `timer` out of the queue for good: its body is dropped and its handle's calls do nothing.
    func close(_ timer: ExchangeTimer) {
        remove(timer)
        timer.body = nil
    }

    func cancel(_ timer: ExchangeTimer) { remove(timer) }
    func reschedule(_ timer: ExchangeTimer, after delay: Duration) { arm(timer, after: delay) }

    /// Drops every pending entry and disarms the libevent timer. When the worker stops.
    func closeAll() {
        for entry in heap {
            entry.slot = -1
            entry.body = nil
        }
        heap = []
        timer?.cancel()
        armedFor = nil
    }

    private func arm(_ entry: ExchangeTimer, after delay: Duration) {
        guard entry.body != nil else { return }
        let due = clock.now() + delay
        scheduled &+= 1
        entry.order = scheduled
        if entry.slot >= 0 {
            let earlier = due < entry.due
            entry.due = due
            if earlier { siftUp(entry.slot) } else { siftDown(entry.slot) }
        } else {
            entry.due = due
            entry.slot = heap.count
            heap.append(entry)
            siftUp(entry.slot)
        }
        if let armedFor, armedFor <= due { return }
        armTimer(for: due, after: delay)
    }

    private func remove(_ entry: ExchangeTimer) {
        let slot = entry.slot
        guard slot >= 0 else { return }
        entry.slot = -1
        let last = heap.removeLast()
        guard slot < heap.count else { return }
        heap[slot] = last
        last.slot = slot
        if slot > 0, Self.before(last, heap[(slot - 1) / 2]) { siftUp(slot) } else { siftDown(slot) }
    }

    @inline(__always)
    private static func before(_ a: ExchangeTimer, _ b: ExchangeTimer) -> Bool {
        a.due < b.due || (a.due == b.due && a.order < b.order)
    }

    // The sifts swap in place: moving an entry by copies took and dropped a reference per step.
    private func siftUp(_ start: Int) {
        var i = start
        while i > 0 {
            let parent = (i - 1) / 2
            guard Self.before(heap[i], heap[parent]) else { break }
            heap.swapAt(i, parent)
            heap[i].slot = i
            i = parent
        }
        heap[i].slot = i
    }

    private func siftDown(_ start: Int) {
        var i = start
        let count = heap.count
        while true {
            var child = 2 * i + 1
            guard child < count else { break }
            if child + 1 < count, Self.before(heap[child + 1], heap[child]) { child += 1 }
            guard Self.before(heap[child], heap[i]) else { break }
            heap.swapAt(i, child)
            heap[i].slot = i
            i = child
        }
        heap[i].slot = i
    }

    private func armTimer(for due: MonotonicInstant, after delay: Duration) {
        let timer = self.timer ?? makeTimer()
        armedFor = due
        timer.arm(after: delay)
    }

    private func makeTimer() -> SluiceIO.Timer {
        // Unowned: the timer is this queue's own and dies with it.
        let timer = SluiceIO.Timer(loop: loop) { [unowned self] _ in self.fire() }
        self.timer = timer
        return timer
    }

    /// The libevent timer fired: runs, in due order, the entries due by the instant it was armed for
    /// or the clock's reading, whichever is later (libevent's clock may run a little ahead of the
    /// clock's, and a test's manual clock does not move), then arms it for the earliest entry left.
    private func fire() {
        guard let firedFor = armedFor else { return }
        armedFor = nil
        let now = clock.now()
        let limit = max(firedFor, now)
        let lastOrder = scheduled
        while let top = heap.first, top.due <= limit, top.order <= lastOrder {
            remove(top)
            // A body that ran before in this firing may have closed this entry's exchange: then it
            // is no longer in the heap.
            if let body = top.body, let runner = top.runner { runner.runTimer(owner: top.owner, body) }
        }
        // A body may have armed the timer for an entry of its own, later than one left here.
        guard let next = heap.first, armedFor.map({ next.due < $0 }) ?? true else { return }
        armTimer(for: next.due, after: next.due.since(clock.now()))
    }
}
