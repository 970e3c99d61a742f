import SluiceFilters
import SluiceTesting
import Testing

/// `circuit_breaker` on virtual time: a breaker opens after its failures, sends traffic to the
/// other endpoint while open, lets one probe through once the open time is over, reopens for
/// longer when the probe fails and closes when it succeeds; every endpoint open is a fast 503.
@Suite struct CircuitBreakerVirtualTimeTests {
    private static let bad = EndpointCandidate(id: "pair/bad", group: "pair", url: "http://127.0.0.1:1", host: "127.0.0.1",
                                               port: 1, index: 0, activeStreams: 0)
    private static let good = EndpointCandidate(id: "pair/good", group: "pair", url: "http://127.0.0.1:2", host: "127.0.0.1",
                                                port: 2, index: 1, activeStreams: 0)

    private let clock = ManualClock()

    private func breaker(_ config: String) throws -> CircuitBreakerFilter {
        let filter = try FilterTestBench.makeFilter("circuit_breaker", config: config, registry: BuiltinFilters.registry(),
                                                    clock: clock)
        return try #require(filter as? CircuitBreakerFilter)
    }

    /// An exchange offered only the failing endpoint, its attempt started (connecting).
    private func attempt(_ filter: CircuitBreakerFilter) -> EmbeddedExchange {
        let embedded = EmbeddedExchange(filter, name: "circuit_breaker", clock: clock, candidates: [Self.bad])
        embedded.request()
        embedded.startAttempt()
        return embedded
    }

    /// Runs one exchange offered `candidates` (in that order), up to its response head, and
    /// answers `status` if it went to `failing`, else 200; a 200 streams to its end. Returns the
    /// endpoint it went to, or nil when the breaker refused it (its outcome is then in `refusal`).
    @discardableResult
    private func exchange(_ filter: CircuitBreakerFilter, candidates: [EndpointCandidate] = [bad, good],
                          failing: String? = "pair/bad", status: Int = 503,
                          refusal: ((Outcome?) -> Void)? = nil) -> String? {
        let embedded = EmbeddedExchange(filter, name: "circuit_breaker", clock: clock, candidates: candidates)
        #expect(embedded.request() == .next)
        guard embedded.startAttempt() == .next else {
            refusal?(embedded.outcome)
            return nil
        }
        let endpoint = embedded.exchange.endpoint?.id
        embedded.upstreamConnected()
        let answered = endpoint == failing ? status : 200
        embedded.responseHead(HTTPResponseHead(status: answered, headers: HTTPHeaders([("content-type", "application/json")])))
        embedded.upstreamEnds()
        #expect(embedded.outcome?.kind == .completed)
        return endpoint
    }

    @Test func opensAfterItsFailuresFailsOverProbesAfterTheOpenTimeAndCloses() throws {
        let filter = try breaker("{ failures: 3, window: 10s, open_duration: 30s, max_open_duration: 2m }")
        // Three 503s from the endpoint offered first open its breaker.
        for i in 0..<3 {
            #expect(exchange(filter) == "pair/bad")
            #expect(filter.state(of: "pair/bad") == (i < 2 ? .closed : .open(until: clock.now() + .seconds(30))))
        }
        #expect(filter.state(of: "pair/good") == .closed)

        // While open, every request goes to the other endpoint.
        for _ in 0..<4 { #expect(exchange(filter) == "pair/good") }

        // One moment short of the open time, still open; at it, the next request is the probe. It
        // fails, and the breaker reopens for twice as long.
        clock.advance(by: .seconds(30) - .milliseconds(1))
        #expect(exchange(filter) == "pair/good")
        clock.advance(by: .milliseconds(1))
        #expect(filter.state(of: "pair/bad") == .halfOpen)
        #expect(exchange(filter, candidates: [Self.good, Self.bad]) == "pair/bad")
        #expect(filter.state(of: "pair/bad") == .open(until: clock.now() + .seconds(60)))
        for _ in 0..<2 { #expect(exchange(filter) == "pair/good") }

        // The endpoint recovered: the probe after the doubled open time succeeds and closes the breaker.
        clock.advance(by: .seconds(60))
        #expect(exchange(filter, candidates: [Self.good, Self.bad], failing: nil) == "pair/bad")
        #expect(filter.state(of: "pair/bad") == .closed)
        for _ in 0..<4 { #expect(exchange(filter, failing: nil) == "pair/bad") }
    }

    @Test func whileTheProbeIsOutOtherRequestsAvoidTheHalfOpenEndpoint() throws {
        let filter = try breaker("{ failures: 1, open_duration: 5s }")
        #expect(exchange(filter) == "pair/bad")
        clock.advance(by: .seconds(5))
        let probe = EmbeddedExchange(filter, name: "circuit_breaker", clock: clock, candidates: [Self.good, Self.bad])
        probe.request()
        #expect(probe.startAttempt() == .next)
        #expect(probe.exchange.endpoint?.id == "pair/bad")
        // The one probe place is taken: the next request goes to the other endpoint.
        #expect(exchange(filter, failing: nil) == "pair/good")
        probe.upstreamConnected()
        probe.responseHead(HTTPResponseHead(status: 200))
        probe.upstreamEnds()
        #expect(filter.state(of: "pair/bad") == .closed)
    }

    @Test func whenEveryEndpointIsOpenTheAnswerIsA503WithTheSecondsLeftAsRetryAfter() throws {
        let filter = try breaker("{ failures: 2, open_duration: 30s }")
        for _ in 0..<2 { #expect(exchange(filter, candidates: [Self.bad]) == "pair/bad") }
        clock.advance(by: .seconds(10))
        var refused: Outcome?
        #expect(exchange(filter, candidates: [Self.bad], refusal: { refused = $0 }) == nil)
        #expect(refused?.kind == .rejected)
        #expect(refused?.status == 503)
        #expect(refused?.error?.kind == .circuitOpen)
        #expect(refused?.error?.retryAfterSeconds == 20)
        #expect(refused?.decidedBy == "circuit_breaker")
        // Part of a second left is a whole second.
        clock.advance(by: .milliseconds(19_500))
        #expect(exchange(filter, candidates: [Self.bad], refusal: { refused = $0 }) == nil)
        #expect(refused?.error?.retryAfterSeconds == 1)
    }

    @Test func connectFailuresCountAgainstTheEndpointOthersErrorsDoNot() throws {
        let filter = try breaker("{ failures: 2 }")
        func failedAttempt(_ error: ProxyError) {
            let embedded = attempt(filter)
            embedded.upstreamFails(error)
            #expect(embedded.outcome?.kind == .failed)
        }
        failedAttempt(ProxyError(.connectFailed, "refused", source: .filter("other")))
        failedAttempt(ProxyError(.connectFailed, "refused", source: .filter("other")))
        #expect(filter.state(of: "pair/bad") == .closed)
        failedAttempt(ProxyError(.connectFailed, "refused", source: .upstream))
        failedAttempt(ProxyError(.connectTimeout, "no answer", source: .filter("timeouts")))
        #expect(filter.state(of: "pair/bad").isOpenForTest)
    }

    @Test func aStreamCutBeforeMinEventsIsAFailureAndAPartialOneFollowsTheSetting() throws {
        let filter = try breaker("{ failures: 2, min_events: 3, partial_stream: neither }")
        func cut(afterContentEvents count: Int) {
            let embedded = attempt(filter)
            embedded.upstreamConnected()
            embedded.responseHead()
            for _ in 0..<count { embedded.event(data: #"{"choices":[{"delta":{"content":"x"}}]}"#) }
            embedded.end(Outcome(kind: .truncated, status: 200,
                                 error: ProxyError(.upstreamReset, "reset", source: .upstream)))
        }
        for _ in 0..<3 { cut(afterContentEvents: 5) }
        #expect(filter.state(of: "pair/bad") == .closed)
        for _ in 0..<2 { cut(afterContentEvents: 1) }
        #expect(filter.state(of: "pair/bad").isOpenForTest)
        #expect(exchange(filter, candidates: [Self.bad]) == nil)
    }

    @Test(arguments: [false, true])
    func a429CountsOnlyWhenConfigured(_ count429: Bool) throws {
        let filter = try breaker("{ failures: 2, count_429: \(count429) }")
        for _ in 0..<2 { #expect(exchange(filter, candidates: [Self.bad], status: 429) == "pair/bad") }
        #expect(filter.state(of: "pair/bad").isOpenForTest == count429)
    }

    @Test func aReloadedInstanceKeepsTheBreakerStates() throws {
        let old = try breaker("{ failures: 1 }")
        exchange(old, candidates: [Self.bad], status: 500)
        #expect(old.state(of: "pair/bad").isOpenForTest)
        let reloaded = try #require(try FilterTestBench.makeFilter(
            "circuit_breaker", config: "{ failures: 1 }", registry: BuiltinFilters.registry(), previous: old,
            clock: clock) as? CircuitBreakerFilter)
        #expect(reloaded.state(of: "pair/bad") == old.state(of: "pair/bad"))
        #expect(try breaker("{ failures: 1 }").state(of: "pair/bad") == .closed)
    }
}

extension CircuitBreaker.State {
    var isOpenForTest: Bool {
        if case .open = self { return true }
        return false
    }
}
