import SluiceFilters
import SluiceTesting
import Testing

/// `retry` on virtual time: the next attempt starts after the backoff, not before; Retry-After is capped.
@Suite struct RetryVirtualTimeTests {
    private static let endpoints = [0, 1].map {
        EndpointCandidate(id: "fake/e\($0)", group: "fake", url: "http://127.0.0.1:\($0 + 1)", host: "127.0.0.1",
                          port: $0 + 1, index: $0, activeStreams: 0)
    }

    private func embedded(_ config: String) throws -> EmbeddedExchange {
        let clock = ManualClock()
        let filter = try FilterTestBench.makeFilter("retry", config: config, registry: BuiltinFilters.registry(), clock: clock)
        let embedded = EmbeddedExchange(filter, name: "retry", clock: clock, candidates: Self.endpoints)
        #expect(embedded.request() == .next)
        embedded.startAttempt()
        embedded.upstreamConnected()
        return embedded
    }

    @Test func aConnectFailureIsRetriedOnTheOtherEndpointAfterTheBackoff() throws {
        let embedded = try embedded("{ max_attempts: 3, backoff_base: 100ms, backoff_max: 100ms }")
        let answer = embedded.upstreamFails(ProxyError(.connectFailed, "refused", source: .upstream))
        guard case .retry(let delay?) = answer else { Issue.record("expected a delayed retry, got \(answer)"); return }
        #expect(delay <= .milliseconds(100))
        #expect(embedded.retries == [delay])
        // Full jitter may draw no wait at all; the next attempt then started at once.
        if delay > .zero { #expect(embedded.exchange.attempt == 1) }
        embedded.advanceTime(by: delay)
        #expect(embedded.exchange.attempt == 2)
        #expect(embedded.exchange.triedEndpoints == ["fake/e0", "fake/e1"])
    }

    @Test func retryAfterIsWaitedForUpToTheCap() throws {
        let embedded = try embedded("{ max_attempts: 2, statuses: [503], retry_after_max: 3s }")
        let answer = embedded.responseHead(HTTPResponseHead(status: 503, headers: HTTPHeaders([("retry-after", "30")])))
        #expect(answer == .retry(after: .seconds(3)))
        embedded.advanceTime(by: .milliseconds(2999))
        #expect(embedded.exchange.attempt == 1)
        embedded.advanceTime(by: .milliseconds(1))
        #expect(embedded.exchange.attempt == 2)
    }

    @Test func attemptsAreLimitedAndTheLastErrorEndsTheExchange() throws {
        let embedded = try embedded("{ max_attempts: 2, backoff_base: 10ms, backoff_max: 10ms }")
        embedded.upstreamFails(ProxyError(.connectFailed, "refused", source: .upstream))
        embedded.advanceTime(by: .milliseconds(10))
        embedded.upstreamConnected()
        #expect(embedded.upstreamFails(ProxyError(.connectFailed, "refused again", source: .upstream)) == .next)
        #expect(embedded.outcome?.kind == .failed)
        #expect(embedded.outcome?.error?.message == "refused again")
    }

    @Test func anExhaustedBudgetRefusesTheRetryAndTheFailureReachesTheClient() throws {
        let embedded = try embedded("{ budget_ratio: 0, budget_min: 0, backoff_base: 5ms }")
        #expect(embedded.responseHead(HTTPResponseHead(status: 503)) == .next)
        #expect(embedded.retries.isEmpty)
        embedded.upstreamEnds()
        #expect(embedded.outcome?.kind == .completed)
        #expect(embedded.outcome?.status == 503)
        #expect(embedded.exchange.attempt == 1)
    }

    @Test func theBudgetsMinimumBoundsRetriesAtOnceAndAPlaceFreesWhenItsExchangeEnds() throws {
        // One request may be retrying at a time: a second failure meanwhile goes to its client as
        // it is; once the first exchange ended, a failure is retried again.
        let config = "{ budget_ratio: 0, budget_min: 1, backoff_base: 1s, backoff_max: 1s }"
        let clock = ManualClock()
        let filter = try FilterTestBench.makeFilter("retry", config: config, registry: BuiltinFilters.registry(), clock: clock)
        func failing() -> EmbeddedExchange {
            let embedded = EmbeddedExchange(filter, name: "retry", clock: clock, candidates: Self.endpoints)
            embedded.request()
            embedded.startAttempt()
            embedded.upstreamConnected()
            embedded.responseHead(HTTPResponseHead(status: 503))
            return embedded
        }
        let first = failing()
        #expect(first.retries.count == 1)
        let second = failing()
        #expect(second.retries.isEmpty)
        #expect(second.exchange.attempt == 1)
        second.upstreamEnds()
        first.advanceTime(by: .seconds(1))
        first.upstreamConnected()
        first.responseHead(HTTPResponseHead(status: 200))
        first.upstreamEnds()
        #expect(first.outcome?.kind == .completed)
        #expect(failing().retries.count == 1)
    }
}
