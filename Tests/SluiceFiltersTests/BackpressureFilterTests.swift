import SluiceFilterAPI
import SluiceFilters
import SluiceHTTP
import SluiceTesting
import Synchronization
import Testing

/// Watches what the engine buffers for a client, from inside the chain.
final class BacklogProbe: Filter {
    let samples = Mutex<(blocked: Int, drained: Int, maxBacklog: Int, events: Int)>((0, 0, 0, 0))
    init() {}
    var wantsEvents: Bool { true }
    func onEvent(_ exchange: Exchange, _ event: inout SSEEvent, _ info: LLMEventInfo) -> EventDecision {
        let backlog = exchange.clientBacklog
        samples.withLock {
            $0.maxBacklog = max($0.maxBacklog, backlog)
            $0.events += 1
        }
        return .pass
    }
    /// The exchange the client was blocked on, held weakly: nil once the exchange was freed.
    let blockedExchange = WeakExchange()
    func onClientBlocked(_ exchange: Exchange) {
        samples.withLock { $0.blocked += 1 }
        blockedExchange.set(exchange)
    }
    func onClientDrained(_ exchange: Exchange) { samples.withLock { $0.drained += 1 } }
}

@Suite(.serialized)
struct BackpressureFilterTests {
    static func registry(_ probe: BacklogProbe) -> FilterRegistry {
        let registry = BuiltinFilters.registry()
        registry.register("backlog_probe") { _ in probe }
        return registry
    }

    static func streamHead(tokens: Int, tps: Int) -> HTTPRequestHead {
        HTTPRequestHead(method: "POST", target: "/v1/chat/completions",
                        headers: HTTPHeaders([("host", "x"), ("content-type", "application/json"),
                                              ("x-mock-tokens", String(tokens)), ("x-mock-tps", String(tps))]))
    }

    @Test func aClientThatNeverReadsCostsNoMoreThanTheHighWatermarkPlusOneRead() throws {
        let probe = BacklogProbe()
        let proxy = try ProxyHarness(chain: """
            - filter: backpressure
              config: { high_watermark: 32KiB, low_watermark: 8KiB }
            - filter: backlog_probe
            """, registry: Self.registry(probe), workers: 1)
        defer { proxy.stop() }
        let client = try TestClient(port: proxy.port, receiveBuffer: 4096)
        defer { client.close() }
        try client.send(Self.streamHead(tokens: MockFaults.maxTokens, tps: 100_000), body: Array(TestClient.chatRequest().utf8))
        // Never read. The proxy must notice and stop reading the upstream.
        let deadline = ContinuousClock.now + .seconds(20)
        while probe.samples.withLock({ $0.blocked }) == 0, ContinuousClock.now < deadline {
            _ = proxy.upstream.journal.wait(timeout: .milliseconds(20)) { _ in false }
        }
        #expect(probe.samples.withLock { $0.blocked } >= 1)
        // While paused, the proxy reads nothing from the upstream: no event is processed. (The kernel's
        // send buffer may grow and let the backlog drain now and then even though the client never
        // reads; so look for a window in which the pause held throughout.)
        var checked = false
        for _ in 0..<20 where !checked {
            let a = probe.samples.withLock { $0 }
            _ = proxy.upstream.journal.wait(timeout: .milliseconds(200)) { _ in false }
            let b = probe.samples.withLock { $0 }
            if a.blocked == b.blocked, a.drained == b.drained, a.blocked > a.drained {
                #expect(a.events == b.events, "events were read while the client was blocked: \(a.events) → \(b.events)")
                checked = true
            }
        }
        #expect(checked, "never saw the stream stay paused for 200 ms")
        // Bounded: the high watermark plus one upstream read (libevent reads at most 4 KiB at a time
        // on plain sockets; allow a 16 KiB read and a chunk header).
        let worst = probe.samples.withLock { $0.maxBacklog }
        #expect(worst <= 32 * 1024 + 16 * 1024 + 64, "backlog reached \(worst) bytes")
    }

    @Test func aClientBlockedPastTheTimeoutIsCutAndTheUpstreamCancelled() throws {
        let probe = BacklogProbe()
        let proxy = try ProxyHarness(chain: """
            - filter: backpressure
              config: { high_watermark: 16KiB, slow_client_timeout: 300ms }
            - filter: backlog_probe
            """, registry: Self.registry(probe), workers: 1)
        defer { proxy.stop() }
        let client = try TestClient(port: proxy.port, receiveBuffer: 4096)
        defer { client.close() }
        try client.send(Self.streamHead(tokens: MockFaults.maxTokens, tps: 100_000), body: Array(TestClient.chatRequest().utf8))
        let cancelled = proxy.upstream.journal.wait(timeout: .seconds(20)) { $0.first?.ending == .cancelledByPeer }
        #expect(cancelled, "the upstream was not cancelled")
        #expect(probe.samples.withLock { $0.blocked } >= 1)
        // The client, reading at last, finds a cut stream: never a clean end.
        let response = try client.readResponse(timeout: .seconds(15))
        #expect(response.ending != .complete)
        #expect(!response.sseEvents.contains { $0.data == "[DONE]" })
        // What /metrics says about it: one cut, at least one pause, a slow_client error.
        let m = try proxy.metrics(within: .seconds(5)) { $0.value("sluice_requests_total") == 1 }
        #expect(m.value("sluice_slow_clients_cut_total", ["chain": "main", "filter": "backpressure"]) == 1)
        #expect(m.value("sluice_backpressure_pauses_total", ["route": "all"]) >= 1)
        #expect(m.value("sluice_errors_total", ["kind": "slow_client"]) == 1)
        #expect(m.value("sluice_requests_total", ["status": "200", "outcome": "truncated"]) == 1)
        #expect(m.value("sluice_filter_decisions_total", ["filter": "backpressure", "outcome": "truncated"]) == 1)
        // The filter's timer, kept in the exchange's state and capturing the exchange, must not keep
        // the ended exchange alive.
        let deadline = ContinuousClock.now + .seconds(5)
        while !probe.blockedExchange.isFreed, ContinuousClock.now < deadline {
            _ = proxy.upstream.journal.wait(timeout: .milliseconds(20)) { _ in false }
        }
        #expect(probe.blockedExchange.isFreed, "the exchange outlived its end")
    }

    @Test func aClientThatKeepsReadingIsNeverCut() throws {
        let proxy = try ProxyHarness(chain: """
            - filter: backpressure
              config: { high_watermark: 16KiB, slow_client_timeout: 2s }
            """, workers: 1)
        defer { proxy.stop() }
        let client = try TestClient(port: proxy.port)
        defer { client.close() }
        try client.send(Self.streamHead(tokens: 2000, tps: 20_000), body: Array(TestClient.chatRequest().utf8))
        let response = try client.readResponse(timeout: .seconds(20))
        #expect(response.ending == .complete)
        #expect(response.sseEvents.last?.data == "[DONE]")
    }

    @Test func lowWatermarkMustBeBelowTheHighOne() throws {
        do {
            let proxy = try ProxyHarness(chain: """
                - filter: backpressure
                  config: { high_watermark: 16KiB, low_watermark: 32KiB }
                """)
            proxy.stop()
            Issue.record("an inverted pair of watermarks was accepted")
        } catch {
            #expect("\(error)".contains("test.yaml:17:55:"), "\(error)")
            #expect("\(error)".contains("'low_watermark' must be lower than 'high_watermark'"))
        }
    }
}
