import Foundation
import SluiceConfig
import SluiceFilterAPI
import SluiceFilters
import SluiceHTTP
import SluiceMock
import SluiceTesting
import Testing

/// `hedge` over real sockets, against two mock endpoints with their own times to first token: the
/// fast one wins and the slow one's request is cancelled; both slow; the budget refuses; the hedge's
/// endpoint is down; the raced attempt fails first; the winner is cut (and reported so).
@Suite(.serialized)
struct HedgeFilterTests {
    /// The proxy in front of `first` and `second` (round robin: a first request goes to `first`).
    private func proxy(_ first: String, _ second: String, hedge: String, accessLog: AccessLogSpec = AccessLogSpec(output: .off))
        throws -> ProxyHarness {
        try ProxyHarness(filterFile: pairFile([first, second], admin: true, chain: """
            - filter: hedge
              config: \(hedge)
            """), workers: 1, accessLog: accessLog)
    }

    private func mock(ttft: Duration, faults: [(String, String)] = []) throws -> MockServer {
        try startMock(ttft: ttft, failingWith: faults)
    }

    private func chat(_ port: Int, id: String) throws -> TestResponse {
        try TestClient.post(port: port, path: "/v1/chat/completions", json: TestClient.chatRequest(stream: true),
                            headers: [("x-request-id", id)])
    }

    private func contentEvents(_ response: TestResponse) -> [SSEEvent] {
        response.sseEvents.filter { $0.data.contains(#""content":" "#) }
    }

    private func expectCleanStream(_ response: TestResponse, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(response.status == 200, sourceLocation: sourceLocation)
        #expect(response.ending == .complete, sourceLocation: sourceLocation)
        #expect(contentEvents(response).count == 10, sourceLocation: sourceLocation)
        #expect(response.sseEvents.last?.data == "[DONE]", sourceLocation: sourceLocation)
        #expect(!response.sseEvents.contains { $0.data.contains(#""error""#) }, "\(response.bodyText)", sourceLocation: sourceLocation)
    }

    private func hedges(_ proxy: ProxyHarness, _ result: String) throws -> Double {
        try proxy.metrics().value("sluice_hedges_total", ["filter": "hedge", "result": result])
    }

    @Test func theFastEndpointWinsAndTheSlowOneIsCancelled() throws {
        // The slow one would take 20 s to its first token: it sees its client go long before.
        let slow = try mock(ttft: .seconds(20)), fast = try mock(ttft: .milliseconds(20))
        defer { slow.stop(); fast.stop() }
        let log = HedgeAccessLog()
        let proxy = try proxy("http://127.0.0.1:\(slow.port)", "http://127.0.0.1:\(fast.port)", hedge: "{ after: 100ms }",
                              accessLog: log.spec)
        defer { proxy.stop() }

        let response = try chat(proxy.port, id: "fast-wins")
        expectCleanStream(response)
        // Each endpoint got the same request once.
        #expect(fast.journal.entries.count == 1)
        #expect(slow.journal.entries.count == 1)
        #expect(fast.journal.entries.first?.bodyText == TestClient.chatRequest(stream: true))
        #expect(fast.journal.entries.first?.head.headers["x-request-id"] == "fast-wins")
        // The slow one's request was cancelled (the proxy closed it) before it sent any content.
        #expect(slow.journal.wait(timeout: .seconds(10)) { $0.first?.ending == .cancelledByPeer })
        #expect(fast.journal.wait(timeout: .seconds(10)) { $0.first?.ending == .finished })
        #expect(try hedges(proxy, "started") == 1)
        #expect(try hedges(proxy, "won") == 1)
        #expect(try hedges(proxy, "lost") == 0)
        let entry = try log.entry(requestID: "fast-wins")
        #expect(entry["hedges"] as? Int == 1)
        #expect(entry["hedge_won"] as? Bool == true)
        #expect(entry["hedges_lost"] as? Int == 0)
        #expect(entry["hedges_failed"] as? Int == 0)
        // The route had measured no first token yet: nothing to estimate the saving from.
        #expect(entry["hedge_saved_ms"] is NSNull)
        #expect(entry["outcome"] as? String == "completed")
        #expect((entry["endpoint"] as? String)?.hasSuffix(":\(fast.port)") == true)
        // Not counted twice: the client was charged for one stream's tokens.
        #expect(entry["tokens_out"] as? Int == 10)
    }

    @Test func aFastFirstAttemptIsNeverHedged() throws {
        let fast = try mock(ttft: .milliseconds(10)), other = try mock(ttft: .milliseconds(10))
        defer { fast.stop(); other.stop() }
        let proxy = try proxy("http://127.0.0.1:\(fast.port)", "http://127.0.0.1:\(other.port)", hedge: "{ after: 5s }")
        defer { proxy.stop() }
        expectCleanStream(try chat(proxy.port, id: "no-hedge"))
        #expect(fast.journal.entries.count == 1)
        #expect(other.journal.entries.isEmpty)
        #expect(try hedges(proxy, "started") == 0)
    }

    @Test func whenBothAreSlowTheFirstStartedWinsAndTheHedgeIsCancelled() throws {
        let a = try mock(ttft: .milliseconds(600)), b = try mock(ttft: .milliseconds(600))
        defer { a.stop(); b.stop() }
        let proxy = try proxy("http://127.0.0.1:\(a.port)", "http://127.0.0.1:\(b.port)", hedge: "{ after: 100ms }")
        defer { proxy.stop() }
        expectCleanStream(try chat(proxy.port, id: "both-slow"))
        #expect(a.journal.wait(timeout: .seconds(10)) { $0.first?.ending == .finished })
        // The hedge started 100ms later with the same time to first token: it lost, and was cancelled.
        #expect(b.journal.wait(timeout: .seconds(10)) { $0.first?.ending == .cancelledByPeer })
        #expect(try hedges(proxy, "started") == 1)
        #expect(try hedges(proxy, "lost") == 1)
        #expect(try hedges(proxy, "won") == 0)
    }

    @Test func anExhaustedBudgetStartsNoHedge() throws {
        let slow = try mock(ttft: .milliseconds(400)), fast = try mock(ttft: .milliseconds(10))
        defer { slow.stop(); fast.stop() }
        let proxy = try proxy("http://127.0.0.1:\(slow.port)", "http://127.0.0.1:\(fast.port)",
                              hedge: "{ after: 50ms, budget_min: 0, budget_ratio: 0 }")
        defer { proxy.stop() }
        expectCleanStream(try chat(proxy.port, id: "no-budget"))
        #expect(fast.journal.entries.isEmpty)
        #expect(slow.journal.entries.count == 1)
        #expect(try hedges(proxy, "started") == 0)
        #expect(try proxy.metrics().value("sluice_hedge_budget_refusals_total", ["filter": "hedge"]) == 1)
    }

    @Test func aHedgeToAnEndpointThatIsDownFailsAndTheFirstAttemptGoesOn() throws {
        let slow = try mock(ttft: .milliseconds(400))
        defer { slow.stop() }
        let proxy = try proxy("http://127.0.0.1:\(slow.port)", "http://127.0.0.1:1", hedge: "{ after: 50ms }")
        defer { proxy.stop() }
        expectCleanStream(try chat(proxy.port, id: "hedge-down"))
        #expect(slow.journal.entries.count == 1)
        #expect(slow.journal.wait(timeout: .seconds(10)) { $0.first?.ending == .finished })
        #expect(try hedges(proxy, "started") == 1)
        #expect(try hedges(proxy, "failed") == 1)
    }

    @Test func whenTheFirstAttemptFailsBeforeItsFirstTokenTheHedgeGoesOn() throws {
        // The first endpoint resets its stream at its first token (after 300 ms); the hedge, started
        // at 50 ms, has its first token at about 450 ms.
        let failing = try mock(ttft: .milliseconds(300), faults: [("x-mock-reset-after", "0")])
        let hedged = try mock(ttft: .milliseconds(400))
        defer { failing.stop(); hedged.stop() }
        let proxy = try proxy("http://127.0.0.1:\(failing.port)", "http://127.0.0.1:\(hedged.port)", hedge: "{ after: 50ms }")
        defer { proxy.stop() }
        expectCleanStream(try chat(proxy.port, id: "first-fails"))
        #expect(failing.journal.entries.count == 1)
        #expect(hedged.journal.entries.count == 1)
        #expect(try hedges(proxy, "won") == 1)
    }

    @Test func aWinnerCutAfterItsFirstTokensIsReportedAsTruncatedNotReplaced() throws {
        let slow = try mock(ttft: .seconds(20))
        let cut = try mock(ttft: .milliseconds(10), faults: [("x-mock-reset-after", "3")])
        defer { slow.stop(); cut.stop() }
        let log = HedgeAccessLog()
        let proxy = try proxy("http://127.0.0.1:\(slow.port)", "http://127.0.0.1:\(cut.port)", hedge: "{ after: 100ms }",
                              accessLog: log.spec)
        defer { proxy.stop() }
        let response = try chat(proxy.port, id: "winner-cut")
        #expect(response.status == 200)
        #expect(response.ending != .complete)
        #expect(contentEvents(response).count == 3)
        // The cut is said in an error event, never papered over with the other endpoint's stream.
        #expect(response.sseEvents.last?.data.contains(#""error""#) == true, "\(response.bodyText)")
        #expect(slow.journal.wait(timeout: .seconds(10)) { $0.first?.ending == .cancelledByPeer })
        #expect(slow.journal.entries.count == 1)
        let entry = try log.entry(requestID: "winner-cut")
        #expect(entry["outcome"] as? String == "truncated")
        #expect(entry["hedge_won"] as? Bool == true)
    }

    @Test func onlyTheConfiguredMethodsAndPathsAreHedged() throws {
        let slow = try mock(ttft: .milliseconds(300)), fast = try mock(ttft: .milliseconds(10))
        defer { slow.stop(); fast.stop() }
        let proxy = try proxy("http://127.0.0.1:\(slow.port)", "http://127.0.0.1:\(fast.port)",
                              hedge: "{ after: 50ms, paths: [/v1/messages] }")
        defer { proxy.stop() }
        expectCleanStream(try chat(proxy.port, id: "other-path"))
        #expect(fast.journal.entries.isEmpty)
        #expect(try hedges(proxy, "started") == 0)
    }

    @Test func theSavedFirstTokenTimeIsEstimatedFromTheRoutesOwnFirstTokens() throws {
        let slow = try mock(ttft: .milliseconds(400)), fast = try mock(ttft: .milliseconds(20))
        defer { slow.stop(); fast.stop() }
        let log = HedgeAccessLog()
        // Until the route has measured 20 first tokens, `p95` waits `after_max`.
        let proxy = try proxy("http://127.0.0.1:\(slow.port)", "http://127.0.0.1:\(fast.port)",
                              hedge: "{ after: p95, after_min: 50ms, after_max: 150ms }", accessLog: log.spec)
        defer { proxy.stop() }
        // Both endpoints slow (600 ms): each hedge loses, and the first tokens of the attempts that
        // won are what the route measures.
        for i in 0..<2 {
            let response = try TestClient.post(port: proxy.port, path: "/v1/chat/completions", json: TestClient.chatRequest(stream: true),
                                               headers: [("x-request-id", "measure-\(i)"), ("x-mock-ttft", "600ms")])
            expectCleanStream(response)
        }
        #expect(try hedges(proxy, "lost") == 2)
        // Now the first endpoint is slow and the second fast: the hedge wins, and what it saved is
        // estimated from the 600 ms first tokens measured.
        expectCleanStream(try chat(proxy.port, id: "saves"))
        let entry = try log.entry(requestID: "saves")
        #expect(entry["hedge_won"] as? Bool == true)
        let saved = try #require(entry["hedge_saved_ms"] as? Double, "\(entry)")
        #expect(saved > 0 && saved < 600, "\(saved)")
        #expect(try proxy.metrics().value("sluice_hedge_first_token_saved_seconds_count", ["filter": "hedge"]) == 1)
    }
}
