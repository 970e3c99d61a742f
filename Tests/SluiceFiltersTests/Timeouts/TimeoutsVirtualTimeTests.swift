import SluiceFilters
import SluiceTesting
import Testing

/// `timeouts` on virtual time: each stage's timer, `total` and the heartbeat, without sockets or sleeping.
@Suite struct TimeoutsVirtualTimeTests {
    private func embedded(_ config: String) throws -> EmbeddedExchange {
        let clock = ManualClock()
        let filter = try FilterTestBench.makeFilter("timeouts", config: config, registry: BuiltinFilters.registry(), clock: clock)
        return EmbeddedExchange(filter, name: "timeouts", clock: clock)
    }

    /// Brings the exchange to a streaming response head.
    private func streaming(_ embedded: EmbeddedExchange) {
        #expect(embedded.request() == .next)
        #expect(embedded.startAttempt() == .next)
        embedded.upstreamConnected()
        #expect(embedded.responseHead() == .next)
    }

    @Test func noFirstTokenInTimeIsAnErrorEventFromTheFilter() throws {
        let embedded = try embedded("{ first_token: 2s }")
        streaming(embedded)
        embedded.advanceTime(by: .milliseconds(1999))
        #expect(!embedded.isEnded)
        embedded.advanceTime(by: .milliseconds(1))
        #expect(embedded.outcome?.kind == .truncated)
        #expect(embedded.outcome?.error?.kind == .firstTokenTimeout)
        #expect(embedded.outcome?.decidedBy == "timeouts")
        #expect(embedded.written.last == .error(embedded.failures[0]))
    }

    @Test func aStallBetweenTokensIsAnIdleTimeoutCountedFromTheLastToken() throws {
        let embedded = try embedded("{ between_tokens: 500ms }")
        streaming(embedded)
        for _ in 0..<3 {
            embedded.advanceTime(by: .milliseconds(400))
            #expect(embedded.event(data: #"{"choices":[{"delta":{"content":"hi"}}]}"#) == .pass)
        }
        #expect(!embedded.isEnded)
        embedded.advanceTime(by: .milliseconds(499))
        #expect(!embedded.isEnded)
        embedded.advanceTime(by: .milliseconds(1))
        #expect(embedded.outcome?.error?.kind == .idleTimeout)
        #expect(embedded.events.count == 3)
    }

    @Test func aLateResponseHeadFailsTheAttemptWhichTheChainMayRetry() throws {
        let embedded = try embedded("{ response_head: 300ms }")
        #expect(embedded.request() == .next)
        embedded.startAttempt()
        embedded.upstreamConnected()
        embedded.advanceTime(by: .milliseconds(300))
        // No filter retried: the client gets a 504 with the error.
        #expect(embedded.outcome?.kind == .failed)
        #expect(embedded.outcome?.status == 504)
        #expect(embedded.outcome?.error?.kind == .responseHeadTimeout)
    }

    @Test func theTotalBudgetCutsALongStream() throws {
        let embedded = try embedded("{ total: 1s }")
        streaming(embedded)
        embedded.advanceTime(by: .milliseconds(600))
        embedded.event(data: #"{"choices":[{"delta":{"content":"hi"}}]}"#)
        embedded.advanceTime(by: .milliseconds(400))
        #expect(embedded.outcome?.error?.kind == .totalTimeout)
    }

    @Test func heartbeatsKeepAQuietStreamAliveAndAnEventPutsThemOff() throws {
        let embedded = try embedded("{ heartbeat: 100ms }")
        streaming(embedded)
        embedded.advanceTime(by: .milliseconds(350))
        #expect(embedded.comments == ["keepalive", "keepalive", "keepalive"])
        embedded.event(data: #"{"choices":[{"delta":{"content":"hi"}}]}"#)
        embedded.advanceTime(by: .milliseconds(90))
        #expect(embedded.comments.count == 3)
        embedded.advanceTime(by: .milliseconds(20))
        #expect(embedded.comments.count == 4)
        // A comment never lands inside an event: each is its own write, after the event.
        #expect(embedded.written.suffix(2) == [.event(SSEEvent(data: #"{"choices":[{"delta":{"content":"hi"}}]}"#)), .comment("keepalive")])
        embedded.event(data: "[DONE]")
        embedded.advanceTime(by: .seconds(1))
        #expect(embedded.comments.count == 4)
    }

    @Test func noHeartbeatWhileTheClientIsBlocked() throws {
        let embedded = try embedded("{ heartbeat: 100ms }")
        streaming(embedded)
        embedded.clientBlocks()
        embedded.advanceTime(by: .milliseconds(500))
        #expect(embedded.comments.isEmpty)
        embedded.clientDrains()
        embedded.advanceTime(by: .milliseconds(100))
        #expect(embedded.comments == ["keepalive"])
    }
}
