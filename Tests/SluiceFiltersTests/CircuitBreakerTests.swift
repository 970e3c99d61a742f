import SluiceFilterAPI
import SluiceFilters
import Testing

/// `CircuitBreaker`: the pure state machine behind `circuit_breaker`, driven by a `ManualClock`.
struct CircuitBreakerTests {
    private typealias Settings = CircuitBreaker.Settings

    /// Admits a request, expecting it to pass, and answers its ticket.
    private func admitted(_ breaker: inout CircuitBreaker, _ clock: ManualClock, _ s: Settings,
                          sourceLocation: SourceLocation = #_sourceLocation) throws -> CircuitBreaker.Ticket {
        let admission = breaker.admit(at: clock.now(), s)
        guard case .admitted(let ticket) = admission else {
            Issue.record("expected an admission, got \(admission)", sourceLocation: sourceLocation)
            throw CancellationError()
        }
        return ticket
    }

    /// Admits a request and records `result` for it.
    private func run(_ breaker: inout CircuitBreaker, _ clock: ManualClock, _ s: Settings, _ result: CircuitBreaker.Result,
                     sourceLocation: SourceLocation = #_sourceLocation) throws {
        let ticket = try admitted(&breaker, clock, s, sourceLocation: sourceLocation)
        breaker.record(result, for: ticket, at: clock.now(), s)
    }

    private func state(_ breaker: inout CircuitBreaker, _ clock: ManualClock) -> CircuitBreaker.State {
        breaker.state(at: clock.now())
    }

    @Test func opensAfterNFailuresWithinTheWindow() throws {
        let clock = ManualClock()
        let s = Settings(threshold: .failures(3), window: .seconds(10), openDuration: .seconds(30))
        var breaker = CircuitBreaker()
        try run(&breaker, clock, s, .failure)
        try run(&breaker, clock, s, .success)
        try run(&breaker, clock, s, .failure)
        #expect(state(&breaker, clock) == .closed)
        try run(&breaker, clock, s, .failure)
        #expect(state(&breaker, clock) == .open(until: clock.now() + .seconds(30)))
        #expect(breaker.opens == 1)
    }

    @Test func failuresOlderThanTheWindowDoNotCount() throws {
        let clock = ManualClock()
        let s = Settings(threshold: .failures(3), window: .seconds(10))
        var breaker = CircuitBreaker()
        try run(&breaker, clock, s, .failure)
        try run(&breaker, clock, s, .failure)
        clock.advance(by: .seconds(10))
        try run(&breaker, clock, s, .failure)
        try run(&breaker, clock, s, .failure)
        #expect(state(&breaker, clock) == .closed)
        clock.advance(by: .seconds(9))
        try run(&breaker, clock, s, .failure)
        #expect(state(&breaker, clock) != .closed)
    }

    @Test func ratioWaitsForTheMinimumNumberOfRequests() throws {
        let clock = ManualClock()
        let s = Settings(threshold: .ratio(0.5, minimumRequests: 4), window: .seconds(10))
        var breaker = CircuitBreaker()
        for _ in 0..<3 { try run(&breaker, clock, s, .failure) }
        #expect(state(&breaker, clock) == .closed)  // 3 results: below the minimum
        try run(&breaker, clock, s, .success)
        #expect(state(&breaker, clock) == .closed)  // a success never opens
        try run(&breaker, clock, s, .failure)       // 4 of 5 failed
        #expect(state(&breaker, clock) != .closed)
    }

    @Test func ratioBelowTheThresholdStaysClosed() throws {
        let clock = ManualClock()
        let s = Settings(threshold: .ratio(0.5, minimumRequests: 4), window: .seconds(10))
        var breaker = CircuitBreaker()
        for _ in 0..<6 { try run(&breaker, clock, s, .success) }
        for _ in 0..<5 { try run(&breaker, clock, s, .failure) }
        #expect(state(&breaker, clock) == .closed)  // 5 of 11
        try run(&breaker, clock, s, .failure)       // 6 of 12
        #expect(state(&breaker, clock) != .closed)
    }

    @Test func ratioForgetsResultsThatLeftTheWindow() throws {
        let clock = ManualClock()
        let s = Settings(threshold: .ratio(0.5, minimumRequests: 4), window: .seconds(10))
        var breaker = CircuitBreaker()
        for _ in 0..<3 { try run(&breaker, clock, s, .failure) }
        clock.advance(by: .seconds(11))
        try run(&breaker, clock, s, .failure)
        #expect(state(&breaker, clock) == .closed)  // the three old failures are gone: 1 result
    }

    @Test func anOpenBreakerRefusesWithTheTimeLeftThenTurnsHalfOpen() throws {
        let clock = ManualClock()
        let s = Settings(threshold: .failures(1), openDuration: .seconds(30))
        var breaker = CircuitBreaker()
        try run(&breaker, clock, s, .failure)
        #expect(breaker.admit(at: clock.now(), s) == .refused(retryAfter: .seconds(30)))
        clock.advance(by: .seconds(10))
        #expect(breaker.check(at: clock.now(), s) == .refused(retryAfter: .seconds(20)))
        clock.advance(by: .seconds(20))
        #expect(state(&breaker, clock) == .halfOpen)
        #expect(breaker.check(at: clock.now(), s) == .probeAvailable)
    }

    @Test func halfOpenLetsTheProbesThroughAndClosesAfterAsManySuccesses() throws {
        let clock = ManualClock()
        let s = Settings(threshold: .failures(1), openDuration: .seconds(5), halfOpenProbes: 2)
        var breaker = CircuitBreaker()
        try run(&breaker, clock, s, .failure)
        clock.advance(by: .seconds(5))
        let first = try admitted(&breaker, clock, s)
        let second = try admitted(&breaker, clock, s)
        #expect(first.isProbe && second.isProbe)
        #expect(breaker.admit(at: clock.now(), s) == .refused(retryAfter: .seconds(1)))
        breaker.record(.success, for: first, at: clock.now(), s)
        #expect(state(&breaker, clock) == .halfOpen)
        breaker.record(.success, for: second, at: clock.now(), s)
        #expect(state(&breaker, clock) == .closed)
        #expect(breaker.opens == 0)
        // Closed again with an empty window: one failure opens it (threshold 1), for the base time.
        try run(&breaker, clock, s, .failure)
        #expect(state(&breaker, clock) == .open(until: clock.now() + .seconds(5)))
    }

    @Test func aFailedProbeReopensForLongerUpToTheMaximum() throws {
        let clock = ManualClock()
        let s = Settings(threshold: .failures(1), openDuration: .seconds(30), maxOpenDuration: .seconds(100))
        var breaker = CircuitBreaker()
        try run(&breaker, clock, s, .failure)
        var expected: [Duration] = []
        var seen: [Duration] = []
        for wait in [Duration.seconds(30), .seconds(60), .seconds(100), .seconds(100)] {
            expected.append(wait)
            guard case .open(let until) = state(&breaker, clock) else { Issue.record("not open"); return }
            seen.append(until.since(clock.now()))
            clock.advance(by: until.since(clock.now()))
            try run(&breaker, clock, s, .failure)  // the probe fails
        }
        #expect(seen == expected)
        #expect(breaker.opens == 5)
    }

    @Test func openTimeIsFixedWithoutAMaximum() {
        let s = Settings(openDuration: .seconds(30))
        #expect((1...5).map { CircuitBreaker.openDuration(forOpening: $0, s) } == Array(repeating: .seconds(30), count: 5))
        let growing = Settings(openDuration: .seconds(1), maxOpenDuration: .seconds(3600))
        #expect(CircuitBreaker.openDuration(forOpening: 4, growing) == .seconds(8))
        #expect(CircuitBreaker.openDuration(forOpening: 1000, growing) == .seconds(3600))
    }

    @Test func aProbeThatEndsNeitherWayGivesItsPlaceBack() throws {
        let clock = ManualClock()
        let s = Settings(threshold: .failures(1), openDuration: .seconds(5), halfOpenProbes: 1)
        var breaker = CircuitBreaker()
        try run(&breaker, clock, s, .failure)
        clock.advance(by: .seconds(5))
        let probe = try admitted(&breaker, clock, s)
        #expect(breaker.check(at: clock.now(), s) == .refused(retryAfter: .seconds(1)))
        breaker.record(nil, for: probe, at: clock.now(), s)
        #expect(breaker.check(at: clock.now(), s) == .probeAvailable)
        try run(&breaker, clock, s, .success)
        #expect(state(&breaker, clock) == .closed)
    }

    @Test func resultsOfRequestsAdmittedInAnEarlierStateAreIgnored() throws {
        let clock = ManualClock()
        let s = Settings(threshold: .failures(2), openDuration: .seconds(5))
        var breaker = CircuitBreaker()
        let slow = try admitted(&breaker, clock, s)     // admitted while closed, ends late
        try run(&breaker, clock, s, .failure)
        try run(&breaker, clock, s, .failure)
        #expect(state(&breaker, clock) != .closed)
        clock.advance(by: .seconds(5))
        breaker.record(.success, for: slow, at: clock.now(), s)  // while half-open: not a probe
        #expect(state(&breaker, clock) == .halfOpen)
        breaker.record(.failure, for: slow, at: clock.now(), s)
        #expect(state(&breaker, clock) == .halfOpen)
        let probe = try admitted(&breaker, clock, s)
        breaker.record(.success, for: probe, at: clock.now(), s)
        #expect(state(&breaker, clock) == .closed)
        // The old probe's ticket means nothing to the closed breaker.
        breaker.record(.failure, for: probe, at: clock.now(), s)
        breaker.record(.failure, for: probe, at: clock.now(), s)
        #expect(state(&breaker, clock) == .closed)
    }

    @Test func settingsFromAReloadApplyToTheStateCarriedOver() throws {
        let clock = ManualClock()
        let before = Settings(threshold: .failures(5), window: .seconds(10))
        let after = Settings(threshold: .failures(2), window: .seconds(10))
        var breaker = CircuitBreaker()
        try run(&breaker, clock, before, .failure)
        #expect(state(&breaker, clock) == .closed)
        try run(&breaker, clock, after, .failure)
        #expect(state(&breaker, clock) != .closed)
    }
}
