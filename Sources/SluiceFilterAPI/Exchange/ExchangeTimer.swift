/// A timer owned by an exchange (`Exchange.schedule`). Cancelled automatically when the exchange
/// ends. Loop thread only.
///
/// It is also the engine's entry for the timer: the worker's queue keeps its place, due instant and
/// body on the handle itself (`package` members), so scheduling a timer makes one object, not a
/// handle over an entry.
public final class ExchangeTimer {
    /// Where the timer is kept: the engine's queue, or a stand-in's actions.
    private let home: any ExchangeTimerHome

    // The engine's bookkeeping (`ExchangeTimerHome`), loop thread only.
    /// When it is due, on the home's clock.
    package var due = MonotonicInstant(nanoseconds: 0)
    /// The order of scheduling, for timers due at one instant.
    package var order: UInt64 = 0
    /// Where it sits in its home's heap; -1 when it is not pending.
    package var slot = -1
    /// The filter that scheduled it, by its index in the chain; nil for the engine's own.
    package let owner: Int?
    /// Dropped when its exchange ends: a body often captures its exchange, and the handle often sits
    /// in that exchange's own state. Nil: closed, and the handle's calls do nothing.
    package var body: ExchangeTimerBody?
    /// What runs the body when it is due. Not retained: the exchange closes its timers when it ends
    /// or is freed, and only a pending timer's runner is ever reached.
    package unowned(unsafe) let runner: (any ExchangeTimerRunner)?
    /// The next timer of the same exchange (`ExchangeDeadlines`), which keeps them all to close them.
    package var nextOfExchange: ExchangeTimer?

    /// A handle with actions of its own (a stand-in in a unit test).
    public convenience init(cancel: @escaping () -> Void, reschedule: @escaping (Duration) -> Void = { _ in }) {
        self.init(home: StandInTimerHome(cancel: cancel, reschedule: reschedule), owner: nil, runner: nil, body: nil)
    }

    /// A timer kept by `home`, which runs `body` through `runner` for filter `owner` when it is due.
    package init(home: any ExchangeTimerHome, owner: Int?, runner: (any ExchangeTimerRunner)?, body: ExchangeTimerBody?) {
        self.home = home
        self.owner = owner
        self.runner = runner
        self.body = body
    }

    /// Pending: in its home's heap.
    package var isPending: Bool { slot >= 0 }

    /// Stops the timer.
    public func cancel() { home.cancel(self) }
    /// Arms the timer again to fire `delay` from now (whether it fired, was cancelled or is pending),
    /// with the same body. An idle timeout re-armed on every event uses one timer, not one per event.
    public func reschedule(after delay: Duration) { home.reschedule(self, after: delay) }
}

/// What a timer runs: a plain body, or one its exchange is handed to (`Exchange.schedule`).
package enum ExchangeTimerBody {
    case plain(() -> Void)
    case handing((Exchange) -> Void)
}

/// What a timer's body runs through when it is due: the exchange that scheduled it, which runs the
/// body as the filter that asked for it. Loop thread only.
package protocol ExchangeTimerRunner: AnyObject {
    func runTimer(owner: Int?, _ body: ExchangeTimerBody)
}

/// Where an `ExchangeTimer` is kept: the engine's per-worker queue, or a stand-in's actions. Loop
/// thread only.
package protocol ExchangeTimerHome: AnyObject {
    func cancel(_ timer: ExchangeTimer)
    func reschedule(_ timer: ExchangeTimer, after delay: Duration)
}

/// The home of an `ExchangeTimer` made of two closures (`ExchangeTimer.init(cancel:reschedule:)`).
private final class StandInTimerHome: ExchangeTimerHome {
    private let cancelAction: () -> Void
    private let rescheduleAction: (Duration) -> Void

    init(cancel: @escaping () -> Void, reschedule: @escaping (Duration) -> Void) {
        cancelAction = cancel
        rescheduleAction = reschedule
    }

    func cancel(_ timer: ExchangeTimer) { cancelAction() }
    func reschedule(_ timer: ExchangeTimer, after delay: Duration) { rescheduleAction(delay) }
}
