import SluiceFilterAPI
import SluiceFilters
import SluiceMock
import SluiceTesting
import Synchronization
import Testing

/// Keeps the instances a registry's factory made, so a test can look at the filter the proxy runs.
final class FilterCapture<F: Filter>: Sendable {
    private let made = Mutex<[F]>([])
    var last: F? { made.withLock { $0.last } }
    func keep(_ filter: F) -> F {
        made.withLock { $0.append(filter) }
        return filter
    }
}

/// A filter file with one route to the group `pair` of `endpoints`, and `chain` as its filters.
func pairFile(_ endpoints: [String], chain: String) -> String {
    let list = endpoints.map { "\"\($0)\"" }.joined(separator: ", ")
    let chainText = chain.split(separator: "\n", omittingEmptySubsequences: false).map { "      " + $0 }.joined(separator: "\n")
    return """
    listeners:
      - name: test
        address: 127.0.0.1:0
    upstreams:
      pair:
        balance: round_robin
        endpoints: [\(list)]
    routes:
      - path_prefix: /
        chain: main
        upstream: pair
    chains:
      main:
    \(chainText)

    """
}

/// A second fake upstream next to the harness's own, optionally failing every request.
func startMock(failingWith faults: [(String, String)] = []) throws -> MockServer {
    let mock = MockServer(settings: ProxyHarness.fastMock)
    mock.forcedFaults = faults
    try mock.start()
    return mock
}

/// `circuit_breaker` over real sockets: one breaker per endpoint, failover, fast 503, probes.
@Suite(.serialized)
struct CircuitBreakerFilterTests {
    private func chat(_ port: Int, stream: Bool = false, headers: [(String, String)] = []) throws -> TestResponse {
        try TestClient.post(port: port, path: "/v1/chat/completions", json: TestClient.chatRequest(stream: stream), headers: headers)
    }

    @Test func opensAfterFailuresFailsOverProbesAfterTheOpenTimeAndCloses() throws {
        let clock = ManualClock()
        let bad = try startMock(failingWith: [("x-mock-status", "503")])
        defer { bad.stop() }
        let capture = FilterCapture<CircuitBreakerFilter>()
        let registry = BuiltinFilters.registry()
        registry.register("circuit_breaker") { capture.keep(CircuitBreakerFilter($0)) }
        let badURL = "http://127.0.0.1:\(bad.port)"
        let proxy = try ProxyHarness(filterFile: pairFile([badURL, "{{upstream}}"], chain: """
            - filter: circuit_breaker
              config: { failures: 3, window: 10s, open_duration: 30s, max_open_duration: 2m }
            """), registry: registry, workers: 1, clock: clock)
        defer { proxy.stop() }
        let good = proxy.upstream
        let breaker = try #require(capture.last)
        let badID = "pair/\(badURL)"

        // Round robin alternates: the failing endpoint answers 503 three times, then opens.
        let statuses = try (0..<6).map { _ in try chat(proxy.port).status }
        #expect(statuses.sorted() == [200, 200, 200, 503, 503, 503])
        #expect(bad.journal.entries.count == 3)
        guard case .open = breaker.state(of: badID) else {
            Issue.record("expected open, got \(breaker.state(of: badID))")
            return
        }
        #expect(breaker.state(of: "pair/http://127.0.0.1:\(good.port)") == .closed)

        // While open, everything goes to the other endpoint.
        for _ in 0..<4 { #expect(try chat(proxy.port).status == 200) }
        #expect(bad.journal.entries.count == 3)
        #expect(good.journal.entries.count == 7)

        // After the open time the next request is the probe; it fails, and the breaker reopens for longer.
        clock.advance(by: .seconds(30))
        #expect(breaker.state(of: badID) == .halfOpen)
        #expect(try chat(proxy.port).status == 503)
        #expect(bad.journal.entries.count == 4)
        #expect(breaker.state(of: badID) == .open(until: clock.now() + .seconds(60)))
        for _ in 0..<2 { #expect(try chat(proxy.port).status == 200) }
        #expect(bad.journal.entries.count == 4)

        // The endpoint recovers; the probe after the (doubled) open time succeeds and closes the breaker.
        bad.forcedFaults = []
        clock.advance(by: .seconds(60))
        #expect(try chat(proxy.port).status == 200)
        #expect(bad.journal.entries.count == 5)
        #expect(breaker.state(of: badID) == .closed)
        for _ in 0..<4 { #expect(try chat(proxy.port).status == 200) }
        #expect(bad.journal.entries.count == 7)
    }

    @Test func connectFailuresOpenTheBreakerOfADeadEndpoint() throws {
        let clock = ManualClock()
        let capture = FilterCapture<CircuitBreakerFilter>()
        let registry = BuiltinFilters.registry()
        registry.register("circuit_breaker") { capture.keep(CircuitBreakerFilter($0)) }
        let proxy = try ProxyHarness(filterFile: pairFile(["http://127.0.0.1:1", "{{upstream}}"], chain: """
            - filter: circuit_breaker
              config: { failures: 2 }
            """), registry: registry, workers: 1, clock: clock)
        defer { proxy.stop() }
        let statuses = try (0..<4).map { _ in try chat(proxy.port).status }
        #expect(statuses.sorted() == [200, 200, 502, 502])
        #expect(capture.last?.state(of: "pair/http://127.0.0.1:1") != .closed)
        for _ in 0..<4 { #expect(try chat(proxy.port).status == 200) }
        #expect(proxy.upstream.journal.entries.count == 6)
    }

    @Test func whenEveryEndpointIsOpenTheAnswerIsAFast503WithRetryAfter() throws {
        let clock = ManualClock()
        let proxy = try ProxyHarness(chain: """
            - filter: circuit_breaker
              config: { failures: 2, open_duration: 30s }
            """, workers: 1, clock: clock)
        defer { proxy.stop() }
        for _ in 0..<2 { #expect(try chat(proxy.port, headers: [("x-mock-status", "503")]).status == 503) }
        #expect(proxy.upstream.journal.entries.count == 2)

        clock.advance(by: .seconds(10))
        let started = ContinuousClock.now
        let refused = try chat(proxy.port)
        #expect(ContinuousClock.now - started < .seconds(2))
        #expect(refused.status == 503)
        #expect(refused.head.headers["retry-after"] == "20")
        #expect(refused.bodyText.contains(#""type":"circuit_open""#))
        #expect(proxy.upstream.journal.entries.count == 2)

        // Streaming clients get the same JSON answer: nothing was streamed yet.
        let streamed = try chat(proxy.port, stream: true)
        #expect(streamed.status == 503)
        #expect(proxy.upstream.journal.entries.count == 2)
    }

    @Test func aStreamCutBeforeMinEventsIsAFailureAndAPartialOneFollowsTheSetting() throws {
        let clock = ManualClock()
        let capture = FilterCapture<CircuitBreakerFilter>()
        let registry = BuiltinFilters.registry()
        registry.register("circuit_breaker") { capture.keep(CircuitBreakerFilter($0)) }
        let proxy = try ProxyHarness(chain: """
            - filter: circuit_breaker
              config: { failures: 2, min_events: 3, partial_stream: neither }
            """, registry: registry, workers: 1, clock: clock)
        defer { proxy.stop() }
        let id = "fake/http://127.0.0.1:\(proxy.upstream.port)"
        let breaker = try #require(capture.last)

        // Cut after 5 content events: partial, counted as neither.
        for _ in 0..<3 {
            let r = try chat(proxy.port, stream: true, headers: [("x-mock-reset-after", "5")])
            #expect(r.ending == .truncated)
        }
        #expect(breaker.state(of: id) == .closed)

        // Cut after 1 content event: below min_events, a failure each.
        for _ in 0..<2 {
            let r = try chat(proxy.port, stream: true, headers: [("x-mock-reset-after", "1")])
            #expect(r.ending == .truncated)
        }
        #expect(breaker.state(of: id) != .closed)
        #expect(try chat(proxy.port, stream: true).status == 503)
        #expect(proxy.upstream.journal.entries.count == 5)
    }

    @Test func a429CountsOnlyWhenConfigured() throws {
        let clock = ManualClock()
        for count429 in [false, true] {
            let proxy = try ProxyHarness(chain: """
                - filter: circuit_breaker
                  config: { failures: 2, count_429: \(count429) }
                """, workers: 1, clock: clock)
            defer { proxy.stop() }
            for _ in 0..<2 { #expect(try chat(proxy.port, headers: [("x-mock-status", "429")]).status == 429) }
            let next = try chat(proxy.port)
            #expect(next.status == (count429 ? 503 : 200))
        }
    }

    @Test func aReloadedInstanceKeepsTheBreakerStates() throws {
        let clock = ManualClock()
        let capture = FilterCapture<CircuitBreakerFilter>()
        let registry = BuiltinFilters.registry()
        registry.register("circuit_breaker") { capture.keep(CircuitBreakerFilter($0)) }
        let proxy = try ProxyHarness(chain: """
            - filter: circuit_breaker
              config: { failures: 1 }
            """, registry: registry, workers: 1, clock: clock)
        defer { proxy.stop() }
        #expect(try chat(proxy.port, headers: [("x-mock-status", "500")]).status == 500)
        let old = try #require(capture.last)
        let id = "fake/http://127.0.0.1:\(proxy.upstream.port)"
        #expect(old.state(of: id) != .closed)

        // What a reload does: build the new instance with the old one as `previous`.
        let node = ConfigNode(value: .mapping([]), mark: SourceMark(path: "reload.yaml", line: 1, column: 1))
        let diagnostics = ConfigDiagnostics()
        let setup = FilterSetup(type: "circuit_breaker", name: "circuit_breaker", chain: "main",
                                config: ConfigMap(node, diagnostics: diagnostics, context: "filter"),
                                previous: old, clock: clock, workers: 1)
        let reloaded = CircuitBreakerFilter(setup)
        #expect(diagnostics.isEmpty)
        #expect(reloaded.state(of: id) == old.state(of: id))
        let fresh = CircuitBreakerFilter(FilterSetup(type: "circuit_breaker", name: "circuit_breaker", chain: "main",
                                                     config: ConfigMap(node, diagnostics: diagnostics, context: "filter"),
                                                     previous: nil, clock: clock, workers: 1))
        #expect(fresh.state(of: id) == .closed)
    }

    @Test func configProblemsAreReported() {
        let cases = [
            "{ failures: 3, failure_ratio: 0.5 }",
            "{ minimum_requests: 4 }",
            "{ open_duration: 1m, max_open_duration: 10s }",
            "{ partial_stream: maybe }",
            "{ half_open_probes: 0 }",
            "{ failure_ratio: 2 }",
            "{ window: 10 }",
            "{ falures: 3 }",
        ]
        for config in cases {
            #expect(throws: (any Error).self, "\(config)") {
                let proxy = try ProxyHarness(chain: "- filter: circuit_breaker\n  config: \(config)")
                proxy.stop()
            }
        }
    }
}
