import Foundation
import SluiceFilterAPI
import SluiceFilters
import SluiceMock
import SluiceTesting
import Testing

/// `hedge` with `retry` and `circuit_breaker`, over real sockets: a hedge race is one attempt, and
/// each attempt's result counts for its own endpoint.
@Suite(.serialized)
struct HedgeCompositionTests {
    private func chat(_ port: Int, id: String) throws -> TestResponse {
        try TestClient.post(port: port, path: "/v1/chat/completions", json: TestClient.chatRequest(stream: true),
                            headers: [("x-request-id", id)])
    }

    @Test func aFailedHedgePairCountsAsOneRetryAttempt() throws {
        // Both endpoints reset their streams at their first token.
        let a = try startMock(ttft: .milliseconds(300), failingWith: [("x-mock-reset-after", "0")])
        let b = try startMock(ttft: .milliseconds(300), failingWith: [("x-mock-reset-after", "0")])
        defer { a.stop(); b.stop() }
        let log = HedgeAccessLog()
        let proxy = try ProxyHarness(filterFile: pairFile(["http://127.0.0.1:\(a.port)", "http://127.0.0.1:\(b.port)"], admin: true, chain: """
            - filter: retry
              config: { max_attempts: 2, backoff_base: 1ms }
            - filter: hedge
              config: { after: 50ms }
            """), workers: 1, accessLog: log.spec)
        defer { proxy.stop() }
        let response = try chat(proxy.port, id: "pair-fails")
        #expect(response.status == 502, "\(response.bodyText)")
        // Attempt 1: the pair (both endpoints). Attempt 2: one request, since no untried endpoint is
        // left to hedge to. Three upstream requests, one retry.
        #expect(a.journal.entries.count + b.journal.entries.count == 3)
        let entry = try log.entry(requestID: "pair-fails")
        #expect(entry["retries"] as? Int == 1)
        #expect(entry["hedges"] as? Int == 1)
    }

    @Test func eachAttemptCountsForItsOwnEndpointInTheBreaker() throws {
        let slow = try startMock(ttft: .milliseconds(300))
        defer { slow.stop() }
        let capture = FilterCapture<CircuitBreakerFilter>()
        let registry = BuiltinFilters.registry()
        registry.register("circuit_breaker") { capture.keep(CircuitBreakerFilter($0)) }
        let slowURL = "http://127.0.0.1:\(slow.port)", downURL = "http://127.0.0.1:1"
        let proxy = try ProxyHarness(filterFile: pairFile([slowURL, downURL], admin: true, chain: """
            - filter: hedge
              config: { after: 50ms }
            - filter: circuit_breaker
              config: { failures: 1, window: 30s, open_duration: 30s }
            """), registry: registry, workers: 1)
        defer { proxy.stop() }
        let first = try chat(proxy.port, id: "breaker-1")
        #expect(first.status == 200 && first.ending == .complete)
        let breaker = try #require(capture.last)
        // The hedge to the endpoint that is down failed: its breaker opened. The attempt that
        // answered counted as a success for its own endpoint.
        guard case .open = breaker.state(of: "pair/\(downURL)") else {
            Issue.record("the breaker of the endpoint that is down is \(breaker.state(of: "pair/\(downURL)"))")
            return
        }
        #expect(breaker.state(of: "pair/\(slowURL)") == .closed)
        // With the breaker open, no hedge goes to that endpoint: the second request has no one to hedge to.
        let second = try chat(proxy.port, id: "breaker-2")
        #expect(second.status == 200 && second.ending == .complete)
        #expect(slow.journal.entries.count == 2)
        #expect(try proxy.metrics().value("sluice_hedges_total", ["filter": "hedge", "result": "started"]) == 1)
    }

    /// `hedge` listed before `timeouts`: response hooks run in reverse order, so the first-token
    /// timer starts at each head before `hedge` holds it.
    @Test func aFirstTokenTimeoutFailsTheCurrentAttemptAndTheHedgeTakesOverWithItsOwnTime() throws {
        let a = try startMock(ttft: .seconds(20)), b = try startMock(ttft: .seconds(20))
        defer { a.stop(); b.stop() }
        let log = HedgeAccessLog()
        let proxy = try ProxyHarness(filterFile: pairFile(["http://127.0.0.1:\(a.port)", "http://127.0.0.1:\(b.port)"], admin: true, chain: """
            - filter: hedge
              config: { after: 50ms }
            - filter: timeouts
              config: { first_token: 300ms }
            """), workers: 1, accessLog: log.spec)
        defer { proxy.stop() }
        let response = try chat(proxy.port, id: "both-time-out")
        // Nothing went out before the failure: a whole error response, not a cut stream.
        #expect(response.status == 504, "\(response.bodyText)")
        #expect(response.bodyText.contains("first_token_timeout"))
        // Each attempt timed out on its own clock, and each upstream request was cancelled.
        #expect(a.journal.wait(timeout: .seconds(10)) { $0.first?.ending == .cancelledByPeer })
        #expect(b.journal.wait(timeout: .seconds(10)) { $0.first?.ending == .cancelledByPeer })
        let entry = try log.entry(requestID: "both-time-out")
        #expect(entry["error"] as? String == "first_token_timeout")
        #expect(entry["hedges"] as? Int == 1)
        #expect(entry["retries"] as? Int == 0)
    }
}
