@testable import SluiceEngine
import SluiceFilterAPI
import SluiceIO
import Synchronization
import Testing

/// A worker's timers share one libevent timer (`DeadlineQueue`): they run in due order, ties in the
/// order they were scheduled, a cancel or a move made by an earlier body of the same firing is
/// honoured, and nothing of an exchange runs once its deadlines are closed, while another exchange's
/// do. On a real event loop; the due instants come from a manual clock that never moves, so the
/// order does not depend on the machine's speed.
@Suite(.serialized) struct DeadlineQueueTests {
    /// Runs `setUp` on a fresh loop's thread with a queue and two exchanges' deadlines whose bodies
    /// append their names to a list, and answers the list once `expected` names arrived (or after 5 s).
    private func ran(expected: Int, afterWaiting extra: Duration = .zero,
                     _ setUp: @escaping @Sendable (Deadlines, @escaping @Sendable (String) -> () -> Void) -> Void) -> [String] {
        let loop = EventLoop()
        WorkerThread.start(name: "deadlines-test") { loop.run() }
        defer { loop.stop() }
        let names = Mutex<[String]>([])
        let done = Latch(count: expected)
        let keep = LoopOwned<Deadlines?>(nil)
        loop.execute {
            let deadlines = Deadlines(queue: DeadlineQueue(loop: loop, clock: ManualClock()))
            keep.value = deadlines
            setUp(deadlines) { name in { names.withLock { $0.append(name) }; done.countDown() } }
        }
        #expect(done.wait(timeout: .seconds(5)), "\(names.withLock { $0 })")
        if extra > .zero {
            // A timer of its own marks that `extra` passed on the loop after the last expected body.
            let settled = Latch()
            let marker = LoopOwned<SluiceIO.Timer?>(nil)
            loop.execute {
                let timer = SluiceIO.Timer(loop: loop) { _ in settled.countDown() }
                timer.arm(after: extra)
                marker.value = timer
            }
            _ = settled.wait(timeout: .seconds(5))
            loop.execute { marker.value = nil }
        }
        let answer = names.withLock { $0 }
        let closed = Latch()
        loop.execute { keep.value?.queue.closeAll(); keep.value = nil; closed.countDown() }
        closed.wait()
        return answer
    }

    @Test func timersRunInDueOrderAndTiesInSchedulingOrder() {
        let order = ran(expected: 3) { deadlines, mark in
            _ = deadlines.schedule(after: .milliseconds(30), mark("a"))
            _ = deadlines.schedule(after: .milliseconds(10), mark("b"))
            _ = deadlines.schedule(after: .milliseconds(10), mark("c"))
        }
        #expect(order == ["b", "c", "a"])
    }

    @Test func aTimerCancelledByAnEarlierBodyOfTheSameFiringDoesNotRun() {
        let order = ran(expected: 2, afterWaiting: .milliseconds(50)) { deadlines, mark in
            let cancelled = LoopOwned<ExchangeTimer?>(nil)
            let recordB = mark("b")
            _ = deadlines.schedule(after: .milliseconds(10)) {
                recordB()
                cancelled.value?.cancel()
            }
            let c = deadlines.schedule(after: .milliseconds(10), mark("c"))
            cancelled.value = c
            _ = deadlines.schedule(after: .milliseconds(20), mark("a"))
        }
        #expect(order == ["b", "a"])
    }

    @Test func theEarliestMovedLaterRunsAfterTheOthersAndAFiredOneRunsAgainWhenRescheduled() {
        let order = ran(expected: 4) { deadlines, mark in
            let x = deadlines.schedule(after: .milliseconds(10), mark("x"))
            _ = deadlines.schedule(after: .milliseconds(20), mark("y"))
            x?.reschedule(after: .milliseconds(30))
            let recordZ = mark("z")
            let z = LoopOwned<ExchangeTimer?>(nil)
            let again = LoopOwned(true)
            let made = deadlines.schedule(after: .milliseconds(40)) {
                recordZ()
                if again.value {
                    again.value = false
                    z.value?.reschedule(after: .milliseconds(5))
                }
            }
            z.value = made
        }
        #expect(order == ["y", "x", "z", "z"])
    }

    @Test func nothingRunsOnceClosedAndAHandleCalledAfterDoesNothing() {
        let order = ran(expected: 1, afterWaiting: .milliseconds(50)) { deadlines, mark in
            let late = deadlines.schedule(after: .milliseconds(20), mark("late"))
            let recordFirst = mark("first")
            _ = deadlines.schedule(after: .milliseconds(5)) {
                recordFirst()
                deadlines.close()
                late?.reschedule(after: .milliseconds(1))
            }
        }
        #expect(order == ["first"])
    }
}

extension DeadlineQueueTests {
    @Test func closingOneExchangesDeadlinesLeavesAnothersRunning() {
        let order = ran(expected: 4, afterWaiting: .milliseconds(50)) { deadlines, mark in
            _ = deadlines.schedule(after: .milliseconds(10), mark("mine"))
            _ = deadlines.scheduleForOther(after: .milliseconds(20), mark("other"))
            _ = deadlines.scheduleForOther(after: .milliseconds(30), mark("other later"))
            _ = deadlines.schedule(after: .milliseconds(15), mark("mine, closed"))
            let recordClose = mark("close")
            _ = deadlines.schedule(after: .milliseconds(12)) {
                recordClose()
                deadlines.close()
            }
        }
        #expect(order == ["mine", "close", "other", "other later"])
    }
}

extension DeadlineQueueTests {
    /// The timer is armed for the earliest entry left after a firing, even when a body of that
    /// firing scheduled a later one (which armed it first).
    @Test func aLaterEntryScheduledByABodyDoesNotDelayAnEarlierOneLeft() {
        let order = ran(expected: 2) { deadlines, mark in
            let recordA = mark("a")
            _ = deadlines.schedule(after: .milliseconds(10)) {
                recordA()
                _ = deadlines.scheduleForOther(after: .seconds(3600), mark("an hour later"))
            }
            _ = deadlines.schedule(after: .milliseconds(40), mark("b"))
        }
        #expect(order == ["a", "b"])
    }
}

/// Two exchanges' deadlines on one queue, their bodies run as they come (no filter owns them).
private final class Deadlines: ExchangeTimerRunner, @unchecked Sendable {
    let queue: DeadlineQueue
    private var mine = ExchangeDeadlines()
    private var other = ExchangeDeadlines()
    init(queue: DeadlineQueue) { self.queue = queue }
    func runTimer(owner: Int?, _ body: ExchangeTimerBody) {
        if case .plain(let plain) = body { plain() }
    }
    func schedule(after delay: Duration, _ body: @escaping () -> Void) -> ExchangeTimer? {
        mine.schedule(in: queue, after: delay, owner: nil, runner: self, .plain(body))
    }
    func scheduleForOther(after delay: Duration, _ body: @escaping () -> Void) -> ExchangeTimer? {
        other.schedule(in: queue, after: delay, owner: nil, runner: self, .plain(body))
    }
    func close() { mine.close(in: queue) }
}

/// A value touched only on the test loop's thread (the test hands it there through `execute`).
private final class LoopOwned<Value>: @unchecked Sendable {
    var value: Value
    init(_ value: Value) { self.value = value }
}
