import SluiceFilterAPI

/// The timers of an `EmbeddedExchange`, on its `ManualClock`: armed with a due instant, fired only
/// when the test advances the clock past it, earliest first (in the order they were armed when two
/// are due at once), each with the clock standing at its due instant. Test thread only.
final class VirtualTimers {
    /// One timer. Its body is dropped when the exchange ends, so nothing it captured (the exchange,
    /// say) outlives the exchange through it.
    final class Entry {
        /// When it fires; nil while it is not armed (fired, cancelled, or never rearmed).
        var due: MonotonicInstant?
        /// Breaks ties between timers due at the same instant: the one armed first fires first.
        var sequence = 0
        /// The filter that scheduled it: what its body asks of the exchange is that filter's.
        let owner: Int?
        var body: (() -> Void)?

        init(owner: Int?, body: @escaping () -> Void) {
            self.owner = owner
            self.body = body
        }
    }

    private let clock: ManualClock
    private var entries: [Entry] = []
    private var armed = 0

    init(clock: ManualClock) {
        self.clock = clock
    }

    /// A timer firing `delay` from now (at once, at the next advance, for zero or less).
    func schedule(after delay: Duration, owner: Int?, _ body: @escaping () -> Void) -> Entry {
        let entry = Entry(owner: owner, body: body)
        entries.append(entry)
        arm(entry, after: delay)
        return entry
    }

    /// Arms `entry` again to fire `delay` from now, whether it fired, was cancelled or is pending.
    func arm(_ entry: Entry, after delay: Duration) {
        guard entry.body != nil else { return }
        armed += 1
        entry.sequence = armed
        entry.due = clock.now() + max(delay, .zero)
    }

    /// The earliest instant a timer is due at, if one is armed.
    var nextDue: MonotonicInstant? {
        entries.compactMap(\.due).min()
    }

    /// How many timers are armed.
    var pendingCount: Int {
        entries.count { $0.due != nil }
    }

    /// The armed timer that fires first, if it is due by `limit`: disarmed, with the clock moved to
    /// its due instant. The caller runs its body.
    func takeNext(dueBy limit: MonotonicInstant) -> Entry? {
        var next: Entry?
        for entry in entries {
            guard let due = entry.due, due <= limit else { continue }
            if let chosen = next, let chosenDue = chosen.due,
               chosenDue < due || (chosenDue == due && chosen.sequence < entry.sequence) { continue }
            next = entry
        }
        guard let next, let due = next.due else { return nil }
        next.due = nil
        let now = clock.now()
        if due > now { clock.advance(by: due.since(now)) }
        return next
    }

    /// Cancels every timer and drops their bodies: the exchange ended.
    func cancelAll() {
        for entry in entries {
            entry.due = nil
            entry.body = nil
        }
        entries = []
    }
}
