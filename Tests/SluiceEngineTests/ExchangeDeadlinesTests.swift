@testable import SluiceEngine
import SluiceFilterAPI
import SluiceIO
import Synchronization
import Testing

/// An exchange's timers share one libevent timer (`ExchangeDeadlines`): they run in due order, ties
/// in the order they were scheduled, a cancel or a move made by an earlier body of the same firing is
/// honoured, and nothing runs once the deadlines are closed. On a real event loop; the due instants
/// come from a manual clock that never moves, so the order does not depend on the machine's speed.
@Suite(.serialized) struct ExchangeDeadlinesTests {
    /// Runs `setUp` on a fresh loop's thread with deadlines whose bodies append their names to a
    /// list, and answers the list once `expected` names arrived (or after 5 s).
    private func ran(expected: Int, afterWaiting extra: Duration = .zero,
                     _ setUp: @escaping @Sendable (ExchangeDeadlines, @escaping @Sendable (String) -> () -> Void) -> Void) -> [String] {
        let loop = EventLoop()
        WorkerThread.start(name: "deadlines-test") { loop.run() }
        defer { loop.stop() }
        let names = Mutex<[String]>([])
        let done = Latch(count: expected)
        let keep = LoopOwned<ExchangeDeadlines?>(nil)
        loop.execute {
            let deadlines = ExchangeDeadlines(loop: loop, clock: ManualClock()) { _, body in body() }
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
        loop.execute { keep.value?.close(); keep.value = nil; closed.countDown() }
        closed.wait()
        return answer
    }

    @Test func timersRunInDueOrderAndTiesInSchedulingOrder() {
        let order = ran(expected: 3) { deadlines, mark in
            _ = deadlines.schedule(after: .milliseconds(30), owner: nil, mark("a"))
            _ = deadlines.schedule(after: .milliseconds(10), owner: nil, mark("b"))
            _ = deadlines.schedule(after: .milliseconds(10), owner: nil, mark("c"))
        }
        #expect(order == ["b", "c", "a"])
    }

    @Test func aTimerCancelledByAnEarlierBodyOfTheSameFiringDoesNotRun() {
        let order = ran(expected: 2, afterWaiting: .milliseconds(50)) { deadlines, mark in
            let cancelled = LoopOwned<ExchangeDeadlines.Entry?>(nil)
            let recordB = mark("b")
            _ = deadlines.schedule(after: .milliseconds(10), owner: nil) {
                recordB()
                cancelled.value?.cancel()
            }
            let c = deadlines.schedule(after: .milliseconds(10), owner: nil, mark("c"))
            cancelled.value = c
            _ = deadlines.schedule(after: .milliseconds(20), owner: nil, mark("a"))
        }
        #expect(order == ["b", "a"])
    }

    @Test func theEarliestMovedLaterRunsAfterTheOthersAndAFiredOneRunsAgainWhenRescheduled() {
        let order = ran(expected: 4) { deadlines, mark in
            let x = deadlines.schedule(after: .milliseconds(10), owner: nil, mark("x"))
            _ = deadlines.schedule(after: .milliseconds(20), owner: nil, mark("y"))
            x.reschedule(after: .milliseconds(30))
            let recordZ = mark("z")
            let z = LoopOwned<ExchangeDeadlines.Entry?>(nil)
            let again = LoopOwned(true)
            let made = deadlines.schedule(after: .milliseconds(40), owner: nil) {
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
            let late = deadlines.schedule(after: .milliseconds(20), owner: nil, mark("late"))
            let recordFirst = mark("first")
            _ = deadlines.schedule(after: .milliseconds(5), owner: nil) {
                recordFirst()
                deadlines.close()
                late.reschedule(after: .milliseconds(1))
            }
        }
        #expect(order == ["first"])
    }
}

/// A value touched only on the test loop's thread (the test hands it there through `execute`).
private final class LoopOwned<Value>: @unchecked Sendable {
    var value: Value
    init(_ value: Value) { self.value = value }
}
