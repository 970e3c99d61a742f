import SluiceFilterAPI
import SluiceIO

/// The timers a chain's filters schedule on one exchange (`Exchange.schedule`), on one libevent
/// timer armed for the earliest of them. Loop thread only.
///
/// Why not a libevent timer per `schedule`: a request with the eight built-in filters schedules two
/// (`timeouts`' deadline and `connection_manager`'s `max_age`), each of which made and freed a libevent
/// event, a timer object and three closures. Here a schedule is one entry, and the libevent timer is
/// armed again only when an entry becomes the earliest (about 400 instructions less per short request,
/// measured with the bodies' release at the end included).
///
/// An entry that was cancelled or moved later may leave the libevent timer armed early: it then fires,
/// finds nothing due, and is armed for the earliest entry left. Entries due at the same instant run
/// in the order they were scheduled; one cancelled by an earlier body of the same firing does not run.
final class ExchangeDeadlines {
    /// One scheduled body: what an `ExchangeTimer` handle refers to. Pending while `due` is set.
    final class Entry: ExchangeTimerBackend {
        fileprivate var due: MonotonicInstant?
        /// The order of scheduling, for entries due at one instant.
        fileprivate var order = 0
        fileprivate let owner: Int?
        /// Dropped when the deadlines close: a body often captures its exchange, and the handle that
        /// holds this entry often sits in that exchange's own state.
        fileprivate var body: (() -> Void)?
        /// Strong: a filter may keep the handle after the exchange ended (its calls then do nothing).
        fileprivate let deadlines: ExchangeDeadlines

        fileprivate init(owner: Int?, body: @escaping () -> Void, deadlines: ExchangeDeadlines) {
            self.owner = owner
            self.body = body
            self.deadlines = deadlines
        }

        func cancel() { deadlines.cancel(self) }
        func reschedule(after delay: Duration) { deadlines.arm(self, after: delay) }
    }

    private let loop: EventLoop
    private let clock: any SluiceClock
    /// Runs a due entry's body for the filter that scheduled it (the exchange's `run`).
    private let runBody: (Int?, () -> Void) -> Void
    /// Every entry pending or that a handle may still reschedule (pending: `due` set); their bodies
    /// are dropped at `close`. Entries neither pending nor held by a handle are let go once the list
    /// grows. One short list: a request schedules two or three.
    @exclusivity(unchecked) private var made: [Entry] = []
    @exclusivity(unchecked) private var timer: SluiceIO.Timer?
    /// The instant the libevent timer is armed for; nil while it is not armed.
    @exclusivity(unchecked) private var armedFor: MonotonicInstant?
    @exclusivity(unchecked) private var scheduled = 0
    @exclusivity(unchecked) private var closed = false

    /// `runBody` must not keep the exchange alive (it is held until the exchange's deadlines close).
    init(loop: EventLoop, clock: any SluiceClock, runBody: @escaping (Int?, () -> Void) -> Void) {
        self.loop = loop
        self.clock = clock
        self.runBody = runBody
    }

    /// A new entry that runs `body` for filter `owner` after `delay`.
    func schedule(after delay: Duration, owner: Int?, _ body: @escaping () -> Void) -> Entry {
        let entry = Entry(owner: owner, body: body, deadlines: self)
        if made.count >= 16 { letGoOfUnheld() } else if made.isEmpty { made.reserveCapacity(4) }
        made.append(entry)
        arm(entry, after: delay)
        return entry
    }

    /// Cancels every entry and the libevent timer; later calls do nothing. When the exchange ends.
    func close() {
        guard !closed else { return }
        closed = true
        for entry in made {
            entry.due = nil
            entry.body = nil
        }
        made = []
        timer?.cancel()
        armedFor = nil
    }

    fileprivate func arm(_ entry: Entry, after delay: Duration) {
        guard !closed else { return }
        let due = clock.now() + delay
        entry.due = due
        scheduled += 1
        entry.order = scheduled
        if let armedFor, armedFor <= due { return }
        armTimer(for: due, after: delay)
    }

    fileprivate func cancel(_ entry: Entry) {
        guard entry.due != nil else { return }
        entry.due = nil
        if !made.contains(where: { $0.due != nil }) {
            timer?.cancel()
            armedFor = nil
        }
    }

    /// Keeps only the entries that are pending or that a handle still holds (a filter that schedules
    /// per event instead of rescheduling would otherwise grow the list for the exchange's life).
    private func letGoOfUnheld() {
        var kept: [Entry] = []
        kept.reserveCapacity(made.count)
        for i in made.indices where made[i].due != nil || !isKnownUniquelyReferenced(&made[i]) {
            kept.append(made[i])
        }
        made = kept
    }

    private func armTimer(for due: MonotonicInstant, after delay: Duration) {
        let timer = self.timer ?? makeTimer()
        armedFor = due
        timer.arm(after: delay)
    }

    private func makeTimer() -> SluiceIO.Timer {
        // Unowned: the timer is this object's own and dies with it.
        let timer = SluiceIO.Timer(loop: loop) { [unowned self] _ in self.fire() }
        self.timer = timer
        return timer
    }

    /// The libevent timer fired: runs, in due order, the entries due by the instant it was armed for
    /// (not by the clock's reading, which may lag libevent's by a little), then arms it for the
    /// earliest entry left.
    private func fire() {
        guard let firedFor = armedFor, !closed else { return }
        armedFor = nil
        var due = made.filter { $0.due.map { $0 <= firedFor } ?? false }
        if due.count > 1 { due.sort { ($0.due!, $0.order) < ($1.due!, $1.order) } }
        for entry in due {
            // A body that ran before may have cancelled, moved or ended this one.
            guard !closed else { return }
            guard let when = entry.due, when <= firedFor else { continue }
            entry.due = nil
            if let body = entry.body { runBody(entry.owner, body) }
        }
        guard !closed, armedFor == nil, let next = made.lazy.compactMap(\.due).min() else { return }
        armTimer(for: next, after: next.since(clock.now()))
    }
}
