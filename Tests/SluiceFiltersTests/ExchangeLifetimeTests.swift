import SluiceFilterAPI
import SluiceFilters
import SluiceHTTP
import SluiceTesting
import Synchronization
import Testing

/// Holds every exchange it sees weakly; last in the chain, so every other filter has made its state
/// (and its timers) for the exchange before. Rejects a request that carries `x-test-reject`.
final class ExchangeLifetimeProbe: Filter {
    private let seen = Mutex<[WeakExchange]>([])
    init() {}
    func onRequest(_ exchange: Exchange) -> Decision {
        let weak = WeakExchange()
        weak.set(exchange)
        seen.withLock { $0.append(weak) }
        if exchange.request.headers["x-test-reject"] != nil {
            return .reject(ProxyError(.rateLimited, "refused by the test"))
        }
        return .next
    }
    var count: Int { seen.withLock { $0.count } }
    var alive: Int { seen.withLock { $0.filter { !$0.isFreed }.count } }
}

/// No built-in filter keeps an exchange alive once it ended, however it ended: every filter's state
/// and timers (a timer's body often captures its exchange) go with it. Each case runs one exchange
/// through all eight built-in filters and waits for a weak reference to it to become nil.
@Suite(.serialized)
struct ExchangeLifetimeTests {
    enum Ending: String, CaseIterable, Sendable {
        case completed, upstreamErrorStatus, truncated, timedOut, clientGone, rejected, queuedWithPositionComments
    }

    private static func chain(maxActiveStreams: Int) -> String { """
        - filter: drain
        - filter: connection_manager
          config: { max_streams: 100, max_streams_per_client: 50, max_age: 1h }
        - filter: token_bucket
          config: { capacity: 100, refill_per_second: 1 }
        - filter: admission
          config: { max_active_streams: \(maxActiveStreams), queue: { max_length: 10, max_wait: 30s, position_comments: 50ms } }
        - filter: timeouts
          config: { connect: 5s, response_head: 10s, first_token: 10s, between_tokens: 400ms, total: 60s, heartbeat: 15s }
        - filter: backpressure
          config: { high_watermark: 256KiB, slow_client_timeout: 30s }
        - filter: retry
          config: { max_attempts: 2 }
        - filter: circuit_breaker
          config: { failures: 50 }
        - filter: lifetime_probe
        """
    }

    @Test(arguments: Ending.allCases)
    func anEndedExchangeIsFreed(_ ending: Ending) throws {
        let probe = ExchangeLifetimeProbe()
        let registry = BuiltinFilters.registry()
        registry.register("lifetime_probe") { _ in probe }
        let maxActive = ending == .queuedWithPositionComments ? 1 : 50
        let proxy = try ProxyHarness(chain: Self.chain(maxActiveStreams: maxActive), registry: registry, workers: 1)
        defer { proxy.stop() }
        let json = TestClient.chatRequest()
        switch ending {
        case .completed:
            let r = try TestClient.post(port: proxy.port, path: "/v1/chat/completions", json: json)
            #expect(r.status == 200 && r.ending == .complete)
        case .upstreamErrorStatus:
            let r = try TestClient.post(port: proxy.port, path: "/v1/chat/completions", json: json,
                                        headers: [("x-mock-status", "503")])
            #expect(r.status == 503)
        case .truncated:
            let r = try TestClient.post(port: proxy.port, path: "/v1/chat/completions", json: json,
                                        headers: [("x-mock-reset-after", "3")])
            #expect(r.status == 200 && r.ending != .complete)
        case .timedOut:
            let r = try TestClient.post(port: proxy.port, path: "/v1/chat/completions", json: json,
                                        headers: [("x-mock-stall-after", "2")])
            #expect(r.status == 200 && r.ending != .complete)
        case .clientGone:
            let client = try TestClient(port: proxy.port)
            try client.send(HTTPRequestHead(method: "POST", target: "/v1/chat/completions", headers: HTTPHeaders([
                ("host", "x"), ("content-type", "application/json"), ("x-mock-tokens", "400"), ("x-mock-tps", "20"),
            ])), body: Array(json.utf8))
            _ = try client.readHead()
            client.close()
            let gone = try proxy.metrics(within: .seconds(10)) { $0.value("sluice_requests_total", ["outcome": "client_gone"]) == 1 }
            #expect(gone.value("sluice_requests_total", ["outcome": "client_gone"]) == 1)
        case .queuedWithPositionComments:
            // The first stream holds the only slot for about a second; the second waits in the
            // queue, told its position every 50 ms, then streams.
            let first = try TestClient(port: proxy.port)
            defer { first.close() }
            try first.send(HTTPRequestHead(method: "POST", target: "/v1/chat/completions", headers: HTTPHeaders([
                ("host", "x"), ("content-type", "application/json"), ("x-mock-tokens", "20"), ("x-mock-tps", "20"),
            ])), body: Array(json.utf8))
            _ = try first.readHead()
            let queued = try TestClient.post(port: proxy.port, path: "/v1/chat/completions", json: json,
                                             headers: [("accept", "text/event-stream")])
            #expect(queued.status == 200 && queued.ending == .complete)
            #expect(queued.bodyText.contains(": queued: position 1"))
            #expect(try first.readResponse().ending == .complete)
        case .rejected:
            let r = try TestClient.post(port: proxy.port, path: "/v1/chat/completions", json: json,
                                        headers: [("x-test-reject", "1")])
            #expect(r.status == 429)
        }
        #expect(probe.count == (ending == .queuedWithPositionComments ? 2 : 1))
        let deadline = ContinuousClock.now + .seconds(5)
        while probe.alive > 0, ContinuousClock.now < deadline {
            _ = proxy.upstream.journal.wait(timeout: .milliseconds(20)) { _ in false }
        }
        #expect(probe.alive == 0, "the exchange outlived its end (\(ending.rawValue))")
    }
}
