import SluiceFilterAPI
import SluiceFilters
import SluiceHTTP
import SluiceTesting
import Testing

/// No built-in filter keeps an exchange alive once it ended, however it ended: every filter's state
/// and timers (a timer's body often captures its exchange) go with it. Each case runs exchanges
/// through every built-in filter and waits for weak references to them (`ExchangeLifetimeProbe`)
/// to become nil.
@Suite(.serialized)
struct ExchangeLifetimeTests {
    enum Ending: String, CaseIterable, Sendable {
        case completed, upstreamErrorStatus, truncated, timedOut, clientGone, rejected, queuedWithPositionComments
        /// A connect failure on the first endpoint, then a whole response from the second.
        case servedOnASecondAttempt
        /// Cut by a shutdown whose drain time ran out.
        case cutByShutdownDrain
        /// The client left and `resumable` kept the upstream to its end.
        case keptUpstreamAfterTheClientLeft
        /// A slow first endpoint, raced by a hedge to a fast second one that won.
        case wonByAHedge
    }

    /// Every built-in filter, `resumable` first (it keeps the upstream when the client leaves) unless
    /// `resumable` is false, the probe last.
    private static func chain(maxActiveStreams: Int, resumable: Bool) -> String {
        (resumable ? "- filter: resumable\n" : "") + """
        - filter: drain
          config: { timeout: 200ms }
        - filter: connection_manager
          config: { max_streams: 100, max_streams_per_client: 50, max_age: 1h }
        - filter: token_bucket
          config: { capacity: 100, refill_per_second: 1 }
        - filter: admission
          config: { max_active_streams: \(maxActiveStreams), queue: { max_length: 10, max_wait: 30s, position_comments: 50ms } }
        - filter: hedge
          config: { after: 100ms, budget_min: 5 }
        - filter: timeouts
          config: { connect: 5s, response_head: 10s, first_token: 10s, between_tokens: 400ms, total: 60s, heartbeat: 15s }
        - filter: backpressure
          config: { high_watermark: 256KiB, slow_client_timeout: 30s }
        - filter: retry
          config: { max_attempts: 2, backoff_base: 1ms }
        - filter: circuit_breaker
          config: { failures: 50 }
        - filter: lifetime_probe
        """
    }

    /// A streamed chat request that takes about `tokens / tps` seconds, as `Bearer alice`.
    private static func longStream(tokens: Int, tps: Int) -> HTTPRequestHead {
        HTTPRequestHead(method: "POST", target: "/v1/chat/completions", headers: HTTPHeaders([
            ("host", "x"), ("content-type", "application/json"), ("authorization", "Bearer alice"),
            ("x-mock-tokens", String(tokens)), ("x-mock-tps", String(tps)),
        ]))
    }

    @Test(arguments: Ending.allCases)
    func anEndedExchangeIsFreed(_ ending: Ending) throws {
        let probe = ExchangeLifetimeProbe()
        let registry = BuiltinFilters.registry()
        registry.register("lifetime_probe") { _ in probe }
        let maxActive = ending == .queuedWithPositionComments ? 1 : 50
        // With `resumable`, a client that leaves a stream never ends it: the filter keeps the upstream.
        let chain = Self.chain(maxActiveStreams: maxActive, resumable: ending != .clientGone)
        // The hedge's slow first endpoint: a first token after 20 s, which the client never waits for.
        let slow = ending == .wonByAHedge ? try startMock(ttft: .seconds(20)) : nil
        defer { slow?.stop() }
        let proxy: ProxyHarness
        switch ending {
        case .servedOnASecondAttempt:
            // Round robin starts at the first endpoint, where nothing listens.
            proxy = try ProxyHarness(filterFile: pairFile(["http://127.0.0.1:1", "{{upstream}}"], chain: chain), registry: registry,
                                     workers: 1)
        case .wonByAHedge:
            proxy = try ProxyHarness(filterFile: pairFile(["http://127.0.0.1:\(slow!.port)", "{{upstream}}"], admin: true, chain: chain),
                                     registry: registry, workers: 1)
        default:
            proxy = try ProxyHarness(chain: chain, registry: registry, workers: 1)
        }
        defer { proxy.stop() }
        let json = TestClient.chatRequest()
        var exchanges = 1
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
            try client.send(Self.longStream(tokens: 400, tps: 20), body: Array(json.utf8))
            _ = try client.readHead()
            client.close()
            let gone = try proxy.metrics(within: .seconds(10)) { $0.value("sluice_requests_total", ["outcome": "client_gone"]) == 1 }
            #expect(gone.value("sluice_requests_total", ["outcome": "client_gone"]) == 1)
        case .queuedWithPositionComments:
            // The first stream holds the only slot for about a second; the second waits in the
            // queue, told its position every 50 ms, then streams.
            exchanges = 2
            let first = try TestClient(port: proxy.port)
            defer { first.close() }
            try first.send(Self.longStream(tokens: 20, tps: 20), body: Array(json.utf8))
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
        case .servedOnASecondAttempt:
            let r = try TestClient.post(port: proxy.port, path: "/v1/chat/completions", json: json)
            #expect(r.status == 200 && r.ending == .complete)
            #expect(probe.lastAttempts == [2])
        case .cutByShutdownDrain:
            let client = try TestClient(port: proxy.port)
            defer { client.close() }
            try client.send(Self.longStream(tokens: 400, tps: 20), body: Array(json.utf8))
            _ = try client.readHead()
            proxy.engine.drain()
            let cut = try client.readResponse(timeout: .seconds(10))
            #expect(cut.ending != .complete)
            #expect(cut.sseEvents.last?.data.contains("server_shutdown") == true)
        case .keptUpstreamAfterTheClientLeft:
            let client = try TestClient(port: proxy.port)
            try client.send(Self.longStream(tokens: 10, tps: 20), body: Array(json.utf8))
            let head = try client.readHead()
            #expect(head.headers["x-sluice-stream-id"] != nil)
            client.close()
            // The upstream runs on to its end without a client.
            #expect(proxy.upstream.journal.wait(timeout: .seconds(10)) { $0.first?.ending != nil })
            #expect(proxy.upstream.journal.entries.first?.ending == .finished)
            let kept = try proxy.metrics(within: .seconds(10)) { $0.value("sluice_requests_total", ["outcome": "client_gone"]) == 1 }
            #expect(kept.value("sluice_resumable_upstreams_kept_total") == 1)
        case .wonByAHedge:
            let r = try TestClient.post(port: proxy.port, path: "/v1/chat/completions", json: json)
            #expect(r.status == 200 && r.ending == .complete)
            let won = try proxy.metrics(within: .seconds(10)) { $0.value("sluice_hedges_total", ["result": "won"]) == 1 }
            #expect(won.value("sluice_hedges_total", ["result": "won"]) == 1)
        }
        #expect(probe.count == exchanges)
        #expect(probe.waitUntilAllFreed(within: .seconds(5)), "the exchange outlived its end (\(ending.rawValue))")
    }
}
