import Foundation
import SluiceConfig
import SluiceFilterAPI
import SluiceFilters
import SluiceHTTP
import SluiceMock
import SluiceTesting
import Synchronization
import Testing

/// The `admission` filter: its hooks driven directly on a `ManualClock` (loop lag, budget, reload,
/// config), and the whole filter over real sockets in front of the fake upstream.
@Suite(.serialized)
struct AdmissionFilterTests {
    // MARK: - Direct: helpers

    /// A lag reading a test can change.
    private final class LagReading: Sendable {
        let value = Mutex<Duration>(.zero)
        func set(_ lag: Duration) { value.withLock { $0 = lag } }
    }

    /// Builds the filter from YAML config text; returns it and the config errors.
    private func makeFilter(_ yaml: String, clock: ManualClock = ManualClock(), previous: AdmissionFilter? = nil,
                            lag: LagReading = LagReading()) throws -> (AdmissionFilter, [String]) {
        let node = try YAMLLoader.load(text: yaml, path: "admission.yaml")
        let diagnostics = ConfigDiagnostics()
        let config = ConfigMap(node, diagnostics: diagnostics, context: "filter 'admission'")
        let filter = AdmissionFilter(
            FilterSetup(type: "admission", name: "admission", chain: "main", config: config, previous: previous,
                        clock: clock, workers: 2),
            loopLag: { _ in lag.value.withLock { $0 } })
        config.finish()
        return (filter, diagnostics.errors.map(\.description))
    }

    /// An exchange with no engine behind it: resuming it or sending comments does nothing.
    private func exchange(_ id: String, clock: ManualClock, address: String = "10.0.0.1",
                          headers: [(String, String)] = []) -> Exchange {
        var fields = HTTPHeaders([("host", "proxy"), ("content-type", "application/json")])
        for (name, value) in headers { fields.add(name, value) }
        return Exchange(id: id, request: HTTPRequestHead(method: "POST", target: "/v1/chat/completions", headers: fields),
                        client: ClientInfo(address: address, port: 40000, secure: false, listener: "test"),
                        route: RouteInfo(name: "all", chain: "main", upstreamGroup: "fake"),
                        dialect: .openai, clock: clock, worker: 0)
    }

    private enum Answer: Equatable { case next, suspend, reject(ProxyError.Kind, Int, Int?), other }

    private func answer(_ decision: Decision) -> Answer {
        switch decision {
        case .next: return .next
        case .suspend: return .suspend
        case .reject(let error): return .reject(error.kind, error.status, error.retryAfterSeconds)
        default: return .other
        }
    }

    /// Sends `count` content events on `x` through `onEvent`, `rate` per second, moving the clock.
    private func stream(_ filter: AdmissionFilter, _ x: Exchange, clock: ManualClock, rate: Double, count: Int) {
        let gap = Duration.nanoseconds(Int64(1e9 / rate))
        for _ in 0..<count {
            var event = SSEEvent(data: #"{"choices":[{"index":0,"delta":{"content":" alpha"}}]}"#)
            _ = filter.onEvent(x, &event, LLMEventInfo(kind: .content))
            clock.advance(by: gap)
        }
    }

    // MARK: - Direct: loop lag, budget, reload, config

    @Test func shedsAtOnceWhenTheWorkerLoopLags() throws {
        let lag = LagReading()
        let clock = ManualClock()
        let (filter, errors) = try makeFilter("{ max_active_streams: 10, max_loop_lag: 100ms, retry_after: 4 }",
                                              clock: clock, lag: lag)
        #expect(errors.isEmpty)
        lag.set(.milliseconds(20))
        let calm = exchange("calm", clock: clock)
        #expect(answer(filter.onRequest(calm)) == .next)
        #expect(filter.activeStreams == 1)

        lag.set(.milliseconds(150))
        let shed = exchange("shed", clock: clock)
        let decision = filter.onRequest(shed)
        #expect(answer(decision) == .reject(.overloaded, 503, 4))
        if case .reject(let error) = decision { #expect(error.message.contains("150 ms late")) }
        // A shed request holds no slot and never queued.
        filter.onComplete(shed, Outcome(kind: .rejected, status: 503))
        #expect(filter.activeStreams == 1)
        #expect(filter.queueLength == 0)

        // Exactly at the threshold is not past it.
        lag.set(.milliseconds(100))
        #expect(answer(filter.onRequest(exchange("edge", clock: clock))) == .next)
        filter.onComplete(calm, Outcome(kind: .completed, status: 200))
        #expect(filter.activeStreams == 1)
    }

    @Test func theThroughputBudgetQueuesWhenAnotherStreamWouldNotFit() throws {
        let clock = ManualClock()
        let (filter, errors) = try makeFilter("{ max_events_per_second: 100 }", clock: clock)
        #expect(errors.isEmpty)
        #expect(filter.wantsEvents)
        // Nothing active: admitted, whatever the budget.
        let a = exchange("a", clock: clock)
        #expect(answer(filter.onRequest(a)) == .next)
        // Nothing measured yet: the next one is admitted too (there is no mean to count it at).
        let b = exchange("b", clock: clock)
        #expect(answer(filter.onRequest(b)) == .next)
        filter.onComplete(b, Outcome(kind: .completed, status: 200))

        // One stream at 30/s: room for a second (60) and a third (90) but not a fourth (120).
        stream(filter, a, clock: clock, rate: 30, count: 90)
        #expect(abs(filter.estimatedRate - 30) < 3, "\(filter.estimatedRate)")
        let c = exchange("c", clock: clock)
        #expect(answer(filter.onRequest(c)) == .next)
        let d = exchange("d", clock: clock)
        #expect(answer(filter.onRequest(d)) == .next, "c, pending, counts at the mean: 30 + 30 + 30 fits 100")
        let e = exchange("e", clock: clock)
        #expect(answer(filter.onRequest(e)) == .suspend)
        #expect(filter.queueLength == 1)
        #expect(filter.activeStreams == 3)

        // Stream a ends: its share leaves at once and e is admitted.
        filter.onComplete(a, Outcome(kind: .completed, status: 200))
        #expect(filter.queueLength == 0)
        #expect(filter.activeStreams == 3)
        for x in [c, d, e] { filter.onComplete(x, Outcome(kind: .completed, status: 200)) }
        #expect(filter.activeStreams == 0)
        #expect(filter.estimatedRate == 0)
    }

    @Test func aFastStreamAloneFillsTheTokenBudget() throws {
        let clock = ManualClock()
        let (filter, _) = try makeFilter("{ max_tokens_per_second: 100, queue: { max_length: 0 } }", clock: clock)
        let a = exchange("a", clock: clock)
        #expect(answer(filter.onRequest(a)) == .next)
        stream(filter, a, clock: clock, rate: 80, count: 160)
        // 80 measured + 80 for a newcomer > 100; no queue, so refused at once.
        #expect(answer(filter.onRequest(exchange("b", clock: clock))) == .reject(.overloaded, 503, 1))
        // Usage reported above the event count raises the estimate (tokens mode).
        var usage = SSEEvent(data: "{}")
        _ = filter.onEvent(a, &usage, LLMEventInfo(kind: .usage, usage: TokenUsage(completionTokens: 400)))
        clock.advance(by: .milliseconds(60))
        var more = SSEEvent(data: "{}")
        _ = filter.onEvent(a, &more, LLMEventInfo(kind: .content))
        #expect(filter.estimatedRate > 150, "\(filter.estimatedRate)")
    }

    /// With `max_length: 0` there is no queue to be full: the refusal says the proxy does not queue.
    @Test func withoutAQueueTheRefusalDoesNotSpeakOfAFullQueue() throws {
        let clock = ManualClock()
        let (filter, _) = try makeFilter("{ max_active_streams: 1, queue: { max_length: 0 } }", clock: clock)
        #expect(answer(filter.onRequest(exchange("a", clock: clock))) == .next)
        guard case .reject(let error) = filter.onRequest(exchange("b", clock: clock)) else {
            Issue.record("the second stream was not refused")
            return
        }
        #expect(error.message == "the proxy is at capacity and does not queue requests (queue.max_length is 0)")
    }

    @Test func aQueuedClientThatLeavesOnlyLeavesTheQueue() throws {
        let clock = ManualClock()
        let (filter, _) = try makeFilter("{ max_active_streams: 1 }", clock: clock)
        let a = exchange("a", clock: clock)
        let b = exchange("b", clock: clock)
        #expect(answer(filter.onRequest(a)) == .next)
        #expect(answer(filter.onRequest(b)) == .suspend)
        filter.onComplete(b, Outcome(kind: .clientGone))
        #expect(filter.queueLength == 0)
        #expect(filter.activeStreams == 1)
        filter.onComplete(a, Outcome(kind: .completed, status: 200))
        #expect(filter.activeStreams == 0)
        // An exchange this filter never saw (an earlier filter refused it) changes nothing.
        filter.onComplete(exchange("c", clock: clock), Outcome(kind: .rejected, status: 403))
        #expect(filter.activeStreams == 0 && filter.queueLength == 0)
    }

    @Test func aReloadAdoptsTheStateAndCountsStayExact() throws {
        let clock = ManualClock()
        let (old, _) = try makeFilter("{ max_active_streams: 1 }", clock: clock)
        let a = exchange("a", clock: clock)
        let b = exchange("b", clock: clock)
        #expect(answer(old.onRequest(a)) == .next)
        #expect(answer(old.onRequest(b)) == .suspend)

        let (new, _) = try makeFilter("{ max_active_streams: 2 }", clock: clock, previous: old)
        #expect(new.activeStreams == 1)
        #expect(new.queueLength == 1)
        // The new limit applies from the new instance's first request: b (first in line) is
        // admitted in the dispatch that follows, c waits.
        let c = exchange("c", clock: clock)
        #expect(answer(new.onRequest(c)) == .suspend)
        #expect(new.activeStreams == 2)
        #expect(new.queueLength == 1)
        // Exchanges of the old version end through the old instance, into the same state.
        old.onComplete(a, Outcome(kind: .completed, status: 200))
        #expect(new.activeStreams == 2)
        #expect(new.queueLength == 0)
        old.onComplete(b, Outcome(kind: .completed, status: 200))
        new.onComplete(c, Outcome(kind: .completed, status: 200))
        #expect(new.activeStreams == 0)
        #expect(old.activeStreams == 0)
    }

    @Test func configErrorsAreReportedWithPositions() throws {
        let (_, none) = try makeFilter("{ queue: { max_length: 5 } }")
        #expect(none.contains { $0.contains("needs at least one of max_active_streams") }, "\(none)")

        let (_, both) = try makeFilter("{ max_events_per_second: 10, max_tokens_per_second: 10 }")
        #expect(both.count == 1)
        #expect(both.first?.hasPrefix("admission.yaml:1:53: set max_events_per_second or max_tokens_per_second") == true, "\(both)")

        let (_, share) = try makeFilter("{ max_active_streams: 1, queue: { max_per_client: 0.5 } }")
        #expect(share.contains { $0.contains("'max_per_client' must be a count such as 5 or a share") }, "\(share)")

        let (_, typo) = try makeFilter("{ max_active_streams: 1, queue: { max_wiat: 1s } }")
        #expect(typo.contains { $0.contains("unknown key 'max_wiat' (did you mean 'max_wait'?)") }, "\(typo)")

        let (_, comments) = try makeFilter("{ max_active_streams: 1, queue: { position_comments: sometimes } }")
        #expect(comments.contains { $0.contains("'position_comments' must be a duration") }, "\(comments)")

        let (_, lag) = try makeFilter("{ max_loop_lag: 100 }")
        #expect(lag.contains { $0.contains("a duration needs a unit") }, "\(lag)")

        let (_, fine) = try makeFilter("""
            max_active_streams: 8
            max_tokens_per_second: 500
            max_loop_lag: 250ms
            queue: { max_length: 20, max_wait: 5s, max_per_client: 25%, priority_header: X-Prio, position_comments: off }
            key: { header: x-api-key }
            retry_after: 3
            """)
        #expect(fine.isEmpty, "\(fine)")
    }

    // MARK: - Over sockets: helpers

    /// Keeps the live instance the engine built (the last one the factory made).
    private final class Captured: Sendable {
        let slot = Mutex<AdmissionFilter?>(nil)
        var filter: AdmissionFilter { slot.withLock { $0! } }
    }

    private func start(_ config: String) throws -> (ProxyHarness, Captured) {
        let captured = Captured()
        let registry = BuiltinFilters.registry()
        registry.register("admission") { setup in
            let filter = AdmissionFilter(setup)
            captured.slot.withLock { $0 = filter }
            return filter
        }
        let proxy = try ProxyHarness(chain: "- filter: admission\n  config: \(config)", registry: registry)
        return (proxy, captured)
    }

    /// Opens a connection and sends a streamed chat request with `X-Request-Id: id`; the
    /// response is left to read.
    private func send(_ port: Int, id: String, headers: [(String, String)] = []) throws -> TestClient {
        let client = try TestClient(port: port)
        var fields = HTTPHeaders([("host", "127.0.0.1:\(port)"), ("content-type", "application/json"), ("x-request-id", id)])
        for (name, value) in headers { fields.add(name, value) }
        try client.send(HTTPRequestHead(method: "POST", target: "/v1/chat/completions", headers: fields),
                        body: Array(TestClient.chatRequest().utf8))
        return client
    }

    /// A stream that holds its slot for about a second.
    private let long = [("x-mock-tokens", "30"), ("x-mock-tps", "30")]

    private func eventually(_ timeout: Duration = .seconds(5), _ condition: () -> Bool) -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if condition() { return true }
            usleep(2_000)
        }
        return condition()
    }

    private func upstreamOrder(_ proxy: ProxyHarness) -> [String] {
        proxy.upstream.journal.entries.compactMap { $0.head.headers["x-request-id"] }
    }

    /// Sends the holder and waits until it has the slot and reached the upstream.
    private func hold(_ proxy: ProxyHarness, _ captured: Captured) throws -> TestClient {
        let holder = try send(proxy.port, id: "holder", headers: long)
        #expect(eventually { captured.filter.activeStreams == 1 && upstreamOrder(proxy) == ["holder"] })
        return holder
    }

    /// Sends a request and waits until the queue is `length` long.
    private func queue(_ proxy: ProxyHarness, _ captured: Captured, id: String, headers: [(String, String)] = [],
                       length: Int, sourceLocation: SourceLocation = #_sourceLocation) throws -> TestClient {
        let client = try send(proxy.port, id: id, headers: headers)
        #expect(eventually { captured.filter.queueLength == length }, "\(id) did not queue", sourceLocation: sourceLocation)
        return client
    }

    // MARK: - Over sockets

    @Test func aClientThatDisconnectsWhileQueuedLeavesTheQueueAtOnce() throws {
        let (proxy, captured) = try start("{ max_active_streams: 1 }")
        defer { proxy.stop() }
        let holder = try hold(proxy, captured)
        defer { holder.close() }
        let gone = try queue(proxy, captured, id: "gone", length: 1)
        gone.close()
        #expect(eventually(.milliseconds(500)) { captured.filter.queueLength == 0 })
        #expect(captured.filter.activeStreams == 1)
        // The next request is first in line, not second.
        let next = try queue(proxy, captured, id: "next", length: 1)
        defer { next.close() }
        #expect(try holder.readResponse().status == 200)
        let response = try next.readResponse()
        #expect(response.status == 200)
        #expect(response.ending == .complete)
        #expect(upstreamOrder(proxy) == ["holder", "next"])
        #expect(eventually { captured.filter.activeStreams == 0 })
        #expect(captured.filter.queueLength == 0)
    }

    @Test func slotAccountingStaysExactWhenClientsComeAndGo() throws {
        let (proxy, captured) = try start("{ max_active_streams: 2, queue: { max_per_client: 100% } }")
        defer { proxy.stop() }
        var kept: [TestClient] = []
        for i in 0..<12 {
            let client = try send(proxy.port, id: "churn-\(i)", headers: [("x-mock-tokens", "8"), ("x-mock-tps", "80")])
            if i % 3 == 1 {
                usleep(UInt32(5_000 * (i % 4)))
                client.close()  // some while queued, some after they were admitted
            } else {
                kept.append(client)
            }
        }
        for client in kept {
            let response = try client.readResponse()
            #expect(response.status == 200)
            #expect(response.ending == .complete)
            client.close()
        }
        #expect(eventually { captured.filter.activeStreams == 0 && captured.filter.queueLength == 0 },
                "active \(captured.filter.activeStreams), queued \(captured.filter.queueLength)")
        // The slots are all there: two more run side by side.
        let x = try send(proxy.port, id: "after-1", headers: long)
        let y = try send(proxy.port, id: "after-2", headers: long)
        #expect(eventually { captured.filter.activeStreams == 2 })
        #expect(captured.filter.queueLength == 0)
        x.close()
        y.close()
        #expect(eventually { captured.filter.activeStreams == 0 })
    }
}
