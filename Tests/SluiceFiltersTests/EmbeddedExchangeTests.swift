import SluiceFilterAPI
import SluiceTesting
import Testing

/// `EmbeddedExchange`: timers on virtual time, what filters ask for recorded, hooks in the engine's order.
@Suite struct EmbeddedExchangeTests {
    /// Suspends every request and resumes it from a timer after `wait`; comments at once.
    final class WaitThenGo: Filter {
        let wait: Duration
        init(wait: Duration) { self.wait = wait }
        func onRequest(_ exchange: Exchange) -> Decision {
            exchange.sendComment("waiting")
            exchange.schedule(after: wait) { [unowned exchange] in exchange.resume(.next) }
            return .suspend
        }
    }

    /// Schedules three timers out of order and notes the order and time they fire.
    final class ThreeTimers: Filter {
        nonisolated(unsafe) var fired: [(String, MonotonicInstant)] = []
        func onRequest(_ exchange: Exchange) -> Decision {
            for (label, ms) in [("c", 30), ("a", 10), ("b", 20)] {
                exchange.schedule(after: .milliseconds(ms)) { [unowned self, unowned exchange] in
                    self.fired.append((label, exchange.clock.now()))
                }
            }
            return .next
        }
    }

    @Test func timersFireInDueOrderOnlyWhenTimeIsAdvancedEachAtItsInstant() {
        let filter = ThreeTimers()
        let embedded = EmbeddedExchange(filter)
        let start = embedded.clock.now()
        #expect(embedded.request() == .next)
        #expect(embedded.pendingTimers == 3)
        embedded.advanceTime(by: .milliseconds(9))
        #expect(filter.fired.isEmpty)
        embedded.advanceTime(by: .milliseconds(15))
        #expect(filter.fired.map(\.0) == ["a", "b"])
        #expect(filter.fired.map { $0.1.since(start) } == [.milliseconds(10), .milliseconds(20)])
        #expect(embedded.clock.now().since(start) == .milliseconds(24))
        embedded.end(Outcome(kind: .completed))
        embedded.advanceTime(by: .seconds(1))
        #expect(filter.fired.map(\.0) == ["a", "b"], "a timer fired after the exchange ended")
    }

    @Test func aSuspendedRequestGoesOnWhenItsTimerResumesIt() {
        let embedded = EmbeddedExchange(filters: [WaitThenGo(wait: .milliseconds(200)), WaitThenGo(wait: .seconds(1))],
                                        names: ["first", "second"])
        #expect(embedded.request() == .suspend)
        #expect(embedded.isSuspended)
        #expect(embedded.comments == ["waiting"])
        guard case .head(let head)? = embedded.written.first else { Issue.record("no head"); return }
        #expect(head.headers["content-type"] == "text/event-stream")
        embedded.advanceTime(by: .milliseconds(200))
        // The first filter resumed: the second ran, commented and suspended in its turn.
        #expect(embedded.resumes == [.next])
        #expect(embedded.comments == ["waiting", "waiting"])
        #expect(embedded.isSuspended)
        embedded.advanceTime(by: .seconds(1))
        #expect(embedded.resumes == [.next, .next])
        #expect(!embedded.isSuspended)
        #expect(embedded.startAttempt() == .next)
        #expect(embedded.exchange.attempt == 1)
    }
}
