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

/// A filter file with one route to the round-robin group `pair` of `endpoints` (a first request goes
/// to the first), and `chain` as its filters; with an admin listener when `admin` is true.
func pairFile(_ endpoints: [String], admin: Bool = false, chain: String) -> String {
    let list = endpoints.map { "\"\($0)\"" }.joined(separator: ", ")
    let chainText = chain.split(separator: "\n", omittingEmptySubsequences: false).map { "      " + $0 }.joined(separator: "\n")
    let adminText = admin ? "admin:\n  address: 127.0.0.1:0\n" : ""
    return """
    listeners:
      - name: test
        address: 127.0.0.1:0
    \(adminText)upstreams:
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

/// A second fake upstream next to the harness's own, optionally failing every request, answering
/// after `ttft` when given (the harness's fast pacing otherwise).
func startMock(ttft: Duration? = nil, failingWith faults: [(String, String)] = []) throws -> MockServer {
    var settings = ProxyHarness.fastMock
    if let ttft { settings.timeToFirstToken = ttft }
    let mock = MockServer(settings: settings)
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
