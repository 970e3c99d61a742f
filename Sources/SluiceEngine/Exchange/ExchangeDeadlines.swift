import SluiceFilterAPI

/// The timers a chain's filters scheduled on one exchange (`Exchange.schedule`), kept so they all
/// close when the exchange ends. The timing itself is the worker's `DeadlineQueue`. Loop thread only.
struct ExchangeDeadlines {
    /// Every entry pending or that a handle may still reschedule. Entries neither pending nor held
    /// by a handle are let go once the list grows. One short list: a request schedules two or three.
    private var made: [DeadlineQueue.Entry] = []
    private(set) var isClosed = false

    /// A new entry in `queue` that runs `body` through `runner` for filter `owner` after `delay`;
    /// nil once closed.
    mutating func schedule(in queue: DeadlineQueue, after delay: Duration, owner: Int?, runner: any DeadlineRunner,
                           _ body: DeadlineBody) -> DeadlineQueue.Entry? {
        guard !isClosed else { return nil }
        if made.count >= 16 { letGoOfUnheld() } else if made.isEmpty { made.reserveCapacity(4) }
        let entry = queue.schedule(after: delay, owner: owner, runner: runner, body)
        made.append(entry)
        return entry
    }

    /// Cancels every entry and drops its body; later schedules answer nil. When the exchange ends.
    mutating func close(in queue: DeadlineQueue) {
        guard !isClosed else { return }
        isClosed = true
        for entry in made { queue.close(entry) }
        made = []
    }

    /// Keeps only the entries that are pending or that a handle still holds (a filter that schedules
    /// per event instead of rescheduling would otherwise grow the list for the exchange's life).
    private mutating func letGoOfUnheld() {
        var kept: [DeadlineQueue.Entry] = []
        kept.reserveCapacity(made.count)
        for i in made.indices where made[i].isPending || !isKnownUniquelyReferenced(&made[i]) {
            kept.append(made[i])
        }
        made = kept
    }
}
