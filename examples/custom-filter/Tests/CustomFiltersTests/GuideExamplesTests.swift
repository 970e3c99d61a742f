import SluiceFilters
import SluiceTesting
import Synchronization
import Testing

// The filters docs/writing-a-filter.md shows, as it shows them (with what they leave out filled
// in), so that the guide's code keeps compiling against the API.

/// Section 4, per-exchange state: a `StatefulFilter`.
final class ReserveTokens: StatefulFilter {
    final class ExchangeState { var tokens = 0 }
    let stateSlot = ExchangeStateSlot()                       // the engine fills it in
    func makeState(for exchange: Exchange) -> ExchangeState { ExchangeState() }

    func onRequest(_ exchange: Exchange) -> Decision {
        exchange.state(for: self).tokens = 100                // made here, on first use
        return .next
    }

    func onComplete(_ exchange: Exchange, _ outcome: Outcome) {
        guard let reserved = exchange.existingState(for: self) else { return }  // nothing taken
        release(reserved.tokens)
    }

    // Not in the guide: where the tokens go back to.
    let released = Mutex(0)
    func release(_ tokens: Int) { released.withLock { $0 += tokens } }
}

/// Section 4, shared state: a counter behind a `Mutex`.
final class CountRequests: Filter {
    private let count = Mutex(0)
    func onRequest(_ exchange: Exchange) -> Decision {
        count.withLock { $0 += 1 }
        return .next
    }
    var requests: Int { count.withLock { $0 } }
}

/// Section 3, suspending and resuming: waits 200 ms on a timer of the exchange's own loop.
final class WaitABit: Filter {
    func mustWait(_ exchange: Exchange) -> Bool { exchange.request.headers["x-wait"] != nil }

    func onRequest(_ exchange: Exchange) -> Decision {
        guard mustWait(exchange) else { return .next }
        exchange.schedule(after: .milliseconds(200)) { exchange in   // a timer on the exchange's own loop
            exchange.resume(.next)
        }
        return .suspend
    }
}

@Suite struct GuideExamplesTests {
    @Test func aSuspendedRequestGoesOnWhenItsTimerResumesIt() {
        let clock = ManualClock()
        let embedded = EmbeddedExchange(WaitABit(), clock: clock, headers: [("x-wait", "1")])
        #expect(embedded.request() == .suspend)
        embedded.advanceTime(by: .milliseconds(199))
        #expect(embedded.isSuspended)
        embedded.advanceTime(by: .milliseconds(1))
        #expect(!embedded.isSuspended && !embedded.isEnded)
        #expect(embedded.resumes == [.next])
    }

    /// Section 7, as the guide writes it.
    @Test func noFirstTokenInTwoSecondsEndsTheStream() throws {
        let clock = ManualClock()
        let filter = try FilterTestBench.makeFilter("timeouts", config: "{ first_token: 2s }",
                                                    registry: BuiltinFilters.registry(), clock: clock)
        let embedded = EmbeddedExchange(filter, name: "timeouts", clock: clock)
        #expect(embedded.request() == .next)
        embedded.startAttempt()
        embedded.upstreamConnected()
        #expect(embedded.responseHead() == .next)
        embedded.advanceTime(by: .milliseconds(1999))
        #expect(!embedded.isEnded)
        embedded.advanceTime(by: .milliseconds(1))
        #expect(embedded.outcome?.error?.kind == .firstTokenTimeout)
    }

    @Test func theReservationIsMadeInOnRequestAndReleasedOnceAtTheEnd() {
        let filter = ReserveTokens()
        let embedded = EmbeddedExchange(filter, name: "reserve_tokens")
        #expect(embedded.request() == .next)
        #expect(embedded.exchange.existingState(for: filter)?.tokens == 100)
        embedded.end(Outcome(kind: .completed, status: 200))
        #expect(filter.released.withLock { $0 } == 100)
        #expect(embedded.exchange.existingState(for: filter) == nil)
    }

    @Test func nothingTakenNothingReleased() {
        let filter = ReserveTokens()
        // An earlier filter refused the request: this one's onRequest never ran.
        let embedded = EmbeddedExchange(filters: [RefuseAll(), filter])
        #expect(embedded.request() != .next)
        #expect(filter.released.withLock { $0 } == 0)
    }

    @Test func requestsAreCountedAcrossExchanges() {
        let filter = CountRequests()
        for _ in 0..<3 { EmbeddedExchange(filter).request() }
        #expect(filter.requests == 3)
    }
}

/// Refuses every request.
final class RefuseAll: Filter {
    func onRequest(_ exchange: Exchange) -> Decision { .reject(ProxyError(.forbidden, "no")) }
}
