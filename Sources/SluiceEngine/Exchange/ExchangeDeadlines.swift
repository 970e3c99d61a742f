import SluiceFilterAPI

/// The timers a chain's filters scheduled on one exchange (`Exchange.schedule`), kept so they all
/// close when the exchange ends. The timing itself is the worker's `DeadlineQueue`. Loop thread only.
struct ExchangeDeadlines {
    /// Every timer pending or that a handle may still reschedule, newest first, linked through
    /// `ExchangeTimer.nextOfExchange`: a request schedules two or three, and a list of its own
    /// cost an allocation per exchange.
    private var newest: ExchangeTimer?
    /// How many are linked, to know when to let go of those nobody holds.
    private var linked = 0
    private(set) var isClosed = false

    /// A new timer in `queue` that runs `body` through `runner` for filter `owner` after `delay`;
    /// nil once closed.
    mutating func schedule(in queue: DeadlineQueue, after delay: Duration, owner: Int?, runner: any ExchangeTimerRunner,
                           _ body: ExchangeTimerBody) -> ExchangeTimer? {
        guard !isClosed else { return nil }
        if linked >= 16 { letGoOfUnheld() }
        let timer = queue.schedule(after: delay, owner: owner, runner: runner, body)
        timer.nextOfExchange = newest
        newest = timer
        linked += 1
        return timer
    }

    /// Cancels every timer and drops its body; later schedules answer nil. When the exchange ends.
    mutating func close(in queue: DeadlineQueue) {
        guard !isClosed else { return }
        isClosed = true
        var next = newest
        newest = nil
        linked = 0
        while let timer = next {
            queue.close(timer)
            next = timer.nextOfExchange
            timer.nextOfExchange = nil
        }
    }

    /// Keeps only the timers that are pending or that a handle still holds (a filter that schedules
    /// per event instead of rescheduling would otherwise grow the list for the exchange's life).
    private mutating func letGoOfUnheld() {
        var kept: [ExchangeTimer] = []
        var next = newest
        newest = nil
        while var timer = next {
            next = timer.nextOfExchange
            timer.nextOfExchange = nil
            // Held by `timer` here and by a handle, if any: the list's own link is gone.
            if timer.isPending || !isKnownUniquelyReferenced(&timer) { kept.append(timer) }
        }
        for timer in kept.reversed() {
            timer.nextOfExchange = newest
            newest = timer
        }
        linked = kept.count
    }
}
