import Foundation
import SluiceConfig
import SluiceEngine
import SluiceFilterAPI
import SluiceFilters
import SluiceMock
import SluiceTesting
import Testing

/// `/metrics` over real sockets: streams go through the proxy, then the test scrapes the admin
/// listener and checks that each series moved as it should.
@Suite(.serialized)
struct MetricsTests {
    private static let chatPath = "/v1/chat/completions"

    private func stream(_ proxy: ProxyHarness, headers: [(String, String)] = [], includeUsage: Bool = false) throws -> TestResponse {
        try TestClient.post(port: proxy.port, path: Self.chatPath, json: TestClient.chatRequest(includeUsage: includeUsage),
                            headers: headers)
    }

    @Test func aCompletedStreamMovesTheRequestTokenAndTimingSeries() throws {
        let proxy = try ProxyHarness()
        defer { proxy.stop() }
        let response = try stream(proxy)
        #expect(response.status == 200)
        let route = ["route": "all"]
        let m = try proxy.metrics(within: .seconds(5)) { $0.value("sluice_requests_total", route) == 1 }
        #expect(m.value("sluice_requests_total", ["route": "all", "status": "200", "outcome": "completed"]) == 1)
        #expect(m.value("sluice_active_streams", route) == 0)
        // The fast mock sends 10 content events and no usage: 10 counted completion tokens.
        #expect(m.value("sluice_tokens_total", ["route": "all", "type": "completion", "source": "counted"]) == 10)
        #expect(m.value("sluice_tokens_total", ["route": "all", "source": "usage"]) == 0)
        #expect(m.value("sluice_time_to_first_token_seconds_count", route) == 1)
        #expect(m.value("sluice_admission_wait_seconds_count", route) == 1)
        #expect(m.value("sluice_upstream_connect_seconds_count", route) == 1)
        #expect(m.value("sluice_upstream_response_head_seconds_count", route) == 1)
        #expect(m.value("sluice_first_content_event_seconds_count", route) == 1)
        #expect(m.value("sluice_token_gap_seconds_count", route) == 9)
        #expect(m.value("sluice_longest_token_gap_seconds_count", route) == 1)
        #expect(m.value("sluice_tokens_per_second_count", route) == 1)
        #expect(m.value("sluice_stream_duration_seconds_count", route) == 1)
        #expect(m.types["sluice_time_to_first_token_seconds"] == "histogram")
        #expect(m.types["sluice_requests_total"] == "counter")
        #expect(m.value("sluice_errors_total") == 0)
    }

    @Test func usageReportedByTheUpstreamIsCountedAsUsage() throws {
        let proxy = try ProxyHarness()
        defer { proxy.stop() }
        #expect(try stream(proxy, includeUsage: true).status == 200)
        let m = try proxy.metrics(within: .seconds(5)) { $0.value("sluice_requests_total") == 1 }
        // The mock reports 10 completion tokens and its prompt estimate (6 words) in its usage chunk.
        #expect(m.value("sluice_tokens_total", ["type": "completion", "source": "usage"]) == 10)
        #expect(m.value("sluice_tokens_total", ["type": "prompt", "source": "usage"]) == 6)
        #expect(m.value("sluice_tokens_total", ["source": "counted"]) == 0)
    }

    @Test func usageOfNonStreamedResponsesIsReadInBothDialects() throws {
        let proxy = try ProxyHarness()
        defer { proxy.stop() }
        let chat = try TestClient.post(port: proxy.port, path: Self.chatPath, json: TestClient.chatRequest(stream: false))
        #expect(chat.status == 200)
        let messages = #"{"model":"m","max_tokens":50,"messages":[{"role":"user","content":"hello from the sluice test client"}]}"#
        #expect(try TestClient.post(port: proxy.port, path: "/v1/messages", json: messages).status == 200)
        let m = try proxy.metrics(within: .seconds(5)) { $0.value("sluice_requests_total") == 2 }
        // 10 completion tokens and 6 prompt tokens each, from the bodies' usage.
        #expect(m.value("sluice_tokens_total", ["type": "completion", "source": "usage"]) == 20)
        #expect(m.value("sluice_tokens_total", ["type": "prompt", "source": "usage"]) == 12)
        #expect(m.value("sluice_tokens_total", ["source": "counted"]) == 0)
        // Not streams: no time to first token, no stream duration.
        #expect(m.value("sluice_time_to_first_token_seconds_count") == 0)
        #expect(m.value("sluice_stream_duration_seconds_count") == 0)
    }

    /// A non-streamed body is read for its usage whether it arrives whole with its length (read
    /// where it lies) or in pieces (kept until it ends): here chunked, its usage split across chunks.
    @Test func usageOfAChunkedNonStreamedBodyIsReadWhenItEnds() throws {
        let body = #"{"id":"c","choices":[{"message":{"role":"assistant","content":"hi"}}],"usage":{"prompt_tokens":7,"completion_tokens":3,"total_tokens":10}}"#
        let cut = body.index(body.startIndex, offsetBy: body.count - 30)
        let pieces = [String(body[..<cut]), String(body[cut...])]
        var response = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        for piece in pieces { response += String(piece.utf8.count, radix: 16) + "\r\n" + piece + "\r\n" }
        response += "0\r\n\r\n"
        let upstream = try CannedUpstream(response: Array(response.utf8))
        defer { upstream.stop() }
        let file = ProxyHarness.filterFile().replacingOccurrences(of: "{{upstream}}", with: "http://127.0.0.1:\(upstream.port)")
        let proxy = try ProxyHarness(filterFile: file)
        defer { proxy.stop() }
        let answer = try TestClient.post(port: proxy.port, path: Self.chatPath, json: TestClient.chatRequest(stream: false))
        #expect(answer.status == 200)
        #expect(answer.bodyText == body)
        let m = try proxy.metrics(within: .seconds(5)) { $0.value("sluice_requests_total") == 1 }
        #expect(m.value("sluice_tokens_total", ["type": "completion", "source": "usage"]) == 3)
        #expect(m.value("sluice_tokens_total", ["type": "prompt", "source": "usage"]) == 7)
    }

    @Test func timeToFirstTokenLandsInTheBucketOfTheMocksDelay() throws {
        var slow = ProxyHarness.fastMock
        slow.timeToFirstToken = .milliseconds(300)
        let proxy = try ProxyHarness(upstreamSettings: slow)
        defer { proxy.stop() }
        #expect(try stream(proxy).status == 200)
        let m = try proxy.metrics(within: .seconds(5)) { $0.value("sluice_requests_total") == 1 }
        let route = ["route": "all"]
        // The first token cannot reach the proxy before the mock's 300 ms have passed.
        #expect(m.bucket("sluice_time_to_first_token_seconds", le: "0.25", route) == 0)
        #expect(m.bucket("sluice_time_to_first_token_seconds", le: "2.5", route) == 1)
        // The mock's delay sits between its response head and its first event.
        #expect(m.bucket("sluice_first_content_event_seconds", le: "0.25", route) == 0)
        #expect(m.bucket("sluice_first_content_event_seconds", le: "2.5", route) == 1)
        #expect(m.bucket("sluice_upstream_response_head_seconds", le: "0.25", route) == 1)
    }

    @Test func a429FromTheTokenBucketCountsAsRateLimited() throws {
        let proxy = try ProxyHarness(chain: "- filter: token_bucket\n  config: { capacity: 1, refill_per_second: 0 }")
        defer { proxy.stop() }
        #expect(try stream(proxy).status == 200)
        #expect(try stream(proxy).status == 429)
        let m = try proxy.metrics(within: .seconds(5)) { $0.value("sluice_requests_total") == 2 }
        #expect(m.value("sluice_rate_limited_total", ["chain": "main", "filter": "token_bucket"]) == 1)
        #expect(m.value("sluice_requests_total", ["status": "429", "outcome": "rejected"]) == 1)
        #expect(m.value("sluice_errors_total", ["kind": "rate_limited"]) == 1)
        #expect(m.value("sluice_filter_decisions_total", ["filter": "token_bucket", "outcome": "rejected"]) == 1)
        #expect(m.types["sluice_rate_limited_total"] == "counter")
    }

    @Test func aStalledUpstreamShowsInTheTimeoutCounter() throws {
        let proxy = try ProxyHarness(chain: "- filter: timeouts\n  config: { between_tokens: 200ms }")
        defer { proxy.stop() }
        let response = try stream(proxy, headers: [("x-mock-stall-after", "2")])
        #expect(response.status == 200)
        let m = try proxy.metrics(within: .seconds(5)) { $0.value("sluice_requests_total") == 1 }
        #expect(m.value("sluice_timeouts_total", ["filter": "timeouts", "timer": "between_tokens"]) == 1)
        #expect(m.value("sluice_timeouts_total", ["timer": "first_token"]) == 0)
        #expect(m.value("sluice_requests_total", ["status": "200", "outcome": "timed_out"]) == 1)
        #expect(m.value("sluice_errors_total", ["kind": "idle_timeout"]) == 1)
        // The timer was the timeouts filter's, so that filter decided the outcome.
        #expect(m.value("sluice_filter_decisions_total", ["filter": "timeouts", "outcome": "timed_out"]) == 1)
    }

    @Test func aLateHeadIsATimedOutRequestWithA504() throws {
        let proxy = try ProxyHarness(chain: "- filter: timeouts\n  config: { response_head: 200ms }")
        defer { proxy.stop() }
        #expect(try stream(proxy, headers: [("x-mock-head-delay", "3s")]).status == 504)
        let m = try proxy.metrics(within: .seconds(5)) { $0.value("sluice_requests_total") == 1 }
        #expect(m.value("sluice_timeouts_total", ["timer": "response_head"]) == 1)
        #expect(m.value("sluice_requests_total", ["status": "504", "outcome": "timed_out"]) == 1)
    }

    @Test func aClientThatLeavesIsCountedAsClientGone() throws {
        let proxy = try ProxyHarness(upstreamSettings: Self.longStreams)
        defer { proxy.stop() }
        let client = try MetricsTests.startStream(proxy.port)
        _ = try client.readHead()
        _ = try client.readItem()
        let during = try proxy.metrics(within: .seconds(5)) { $0.value("sluice_active_streams", ["route": "all"]) == 1 }
        #expect(during.value("sluice_active_streams", ["route": "all"]) == 1)
        client.close()
        let m = try proxy.metrics(within: .seconds(5)) { $0.value("sluice_requests_total") == 1 }
        #expect(m.value("sluice_requests_total", ["status": "200", "outcome": "client_gone"]) == 1)
        #expect(m.value("sluice_active_streams", ["route": "all"]) == 0)
        #expect(m.value("sluice_errors_total") == 0)
    }

    @Test func aTruncatedStreamIsCountedAsTruncatedWithItsErrorKind() throws {
        let proxy = try ProxyHarness()
        defer { proxy.stop() }
        #expect(try stream(proxy, headers: [("x-mock-reset-after", "3")]).status == 200)
        let m = try proxy.metrics(within: .seconds(5)) { $0.value("sluice_requests_total") == 1 }
        #expect(m.value("sluice_requests_total", ["status": "200", "outcome": "truncated"]) == 1)
        #expect(m.value("sluice_errors_total", ["kind": "upstream_reset"]) == 1)
        #expect(m.value("sluice_tokens_total", ["type": "completion", "source": "counted"]) == 3)
    }

    @Test func retriesAndBudgetRefusalsAreCounted() throws {
        let chain = "- filter: retry\n  config: { max_attempts: 3, backoff_base: 1ms, budget_ratio: 0, budget_min: 1 }"
        let proxy = try ProxyHarness(chain: chain)
        defer { proxy.stop() }
        // Every attempt gets 503. budget_min 1 lets one request retry at a time, so this one retries
        // twice (3 attempts) and then gives up.
        #expect(try stream(proxy, headers: [("x-mock-status", "503")]).status == 503)
        let m = try proxy.metrics(within: .seconds(5)) { $0.value("sluice_requests_total") == 1 }
        #expect(m.value("sluice_retries_total", ["filter": "retry"]) == 2)
        // The last attempt's 503 reached the client whole, as the upstream sent it.
        #expect(m.value("sluice_requests_total", ["status": "503", "outcome": "completed"]) == 1)
        #expect(proxy.upstream.journal.entries.count == 3)
        #expect(m.value("sluice_upstream_connect_seconds_count") >= 1)
    }

    @Test func theBreakerStateGaugeShowsAnOpenEndpoint() throws {
        // A port that was just bound and closed again: connections to it are refused.
        let port = { SilentListener().port }()
        let file = ProxyHarness.filterFile(chain: "- filter: circuit_breaker\n  config: { failures: 2, open_duration: 1m }")
            .replacingOccurrences(of: "{{upstream}}", with: "http://127.0.0.1:\(port)")
        let proxy = try ProxyHarness(filterFile: file)
        defer { proxy.stop() }
        #expect(try stream(proxy).status == 502)
        #expect(try stream(proxy).status == 502)
        #expect(try stream(proxy).status == 503)
        let m = try proxy.metrics(within: .seconds(5)) { $0.value("sluice_requests_total") == 3 }
        let endpoint = "fake/http://127.0.0.1:\(port)"
        #expect(m.value("sluice_circuit_breaker_state", ["filter": "circuit_breaker", "endpoint": endpoint]) == 2)
        #expect(m.value("sluice_circuit_breaker_opened_total", ["endpoint": endpoint]) == 1)
        #expect(m.value("sluice_circuit_breaker_rejected_total") == 1)
        #expect(m.value("sluice_errors_total", ["kind": "circuit_open"]) == 1)
        #expect(m.value("sluice_errors_total", ["kind": "connect_failed"]) == 2)
    }

    @Test func theAdmissionQueueLengthAndShedsShowWhileRequestsWait() throws {
        let chain = "- filter: admission\n  config: { max_active_streams: 1, queue: { max_length: 1, max_per_client: 1 } }"
        let proxy = try ProxyHarness(chain: chain, upstreamSettings: Self.longStreams)
        defer { proxy.stop() }
        let first = try MetricsTests.startStream(proxy.port)
        defer { first.close() }
        _ = try first.readHead()
        let second = try MetricsTests.startStream(proxy.port)
        defer { second.close() }
        let queued = try proxy.metrics(within: .seconds(5)) { $0.value("sluice_admission_queue_length") == 1 }
        #expect(queued.value("sluice_admission_queue_length", ["chain": "main", "filter": "admission"]) == 1)
        #expect(queued.value("sluice_admission_in_flight", ["filter": "admission"]) == 1)
        #expect(queued.value("sluice_admission_queued_total") == 1)
        #expect(queued.value("sluice_active_streams", ["route": "all"]) == 2)
        // A third request finds the queue full.
        #expect(try stream(proxy).status == 503)
        let m = try proxy.metrics(within: .seconds(5)) { $0.value("sluice_admission_shed_total") == 1 }
        #expect(m.value("sluice_admission_shed_total", ["reason": "queue_full"]) == 1)
        #expect(m.value("sluice_admission_admitted_total") == 1)
    }

    @Test func reloadsAreCountedByResultAndOldChainsShowTheirStreams() throws {
        let path = ProxyHarness.temporaryFilterFilePath()
        let proxy = try ProxyHarness(filterFile: ProxyHarness.filterFile(), path: path, upstreamSettings: Self.longStreams)
        defer { proxy.stop() }
        let client = try MetricsTests.startStream(proxy.port)
        defer { client.close() }
        _ = try client.readHead()
        #expect((try? proxy.reload(filterFile: ProxyHarness.filterFile()).get()) == 2)
        #expect(throws: (any Error).self) { try proxy.reload(filterFile: ProxyHarness.filterFile(chain: "- filter: nope")).get() }
        let m = try proxy.metrics()
        #expect(m.value("sluice_reloads_total", ["result": "succeeded"]) == 1)
        #expect(m.value("sluice_reloads_total", ["result": "failed"]) == 1)
        #expect(m.value("sluice_chain_version") == 2)
        #expect(m.value("sluice_streams_on_previous_chains") == 1)
        #expect(m.value("sluice_draining") == 0)
        client.close()
        let after = try proxy.metrics(within: .seconds(5)) { $0.value("sluice_streams_on_previous_chains") == 0 }
        #expect(after.value("sluice_streams_on_previous_chains") == 0)
    }

    @Test func processFiguresAndLoopLagArePresent() throws {
        let proxy = try ProxyHarness(workers: 2)
        defer { proxy.stop() }
        let m = try proxy.metrics()
        #expect(m.value("process_open_fds") > 5)
        #expect(m.value("process_max_fds") >= m.value("process_open_fds"))
        #expect(m.value("process_resident_memory_bytes") > 1_000_000)
        #expect(m.value("process_start_time_seconds") > 1_600_000_000)
        #expect(m.has("process_cpu_seconds_total"))
        #expect(m.matching("sluice_event_loop_lag_seconds").map { $0.labels["worker"] ?? "" }.sorted() == ["0", "1"])
        #expect(m.value("sluice_open_connections") == 0)
        #expect(m.value("sluice_max_connections") == 10_000)
    }

    @Test func labelsNeverCarryAClientAddressOrAKey() throws {
        let proxy = try ProxyHarness(chain: "- filter: token_bucket\n  config: { key: { header: x-api-key }, capacity: 1, refill_per_second: 0 }")
        defer { proxy.stop() }
        let headers = [("x-api-key", "sk-live-secret-123"), ("authorization", "Bearer sk-bearer-456")]
        #expect(try stream(proxy, headers: headers).status == 200)
        #expect(try stream(proxy, headers: headers).status == 429)
        let m = try proxy.metrics(within: .seconds(5)) { $0.value("sluice_requests_total") == 2 }
        #expect(!m.text.contains("sk-live-secret-123"))
        #expect(!m.text.contains("sk-bearer-456"))
        #expect(!m.text.contains("127.0.0.1"))
        let labelNames = Set(m.samples.flatMap { $0.labels.keys })
        #expect(labelNames.isSubset(of: ["route", "status", "outcome", "kind", "filter", "chain", "type", "source", "le", "result",
                                         "worker", "timer", "reason", "endpoint"]))
    }

    @Test func everySeriesNamedInTheCatalogIsOneTheProxyCanExport() throws {
        // The catalog drives the README table and the dashboards; every engine entry must really
        // appear on /metrics once traffic has flowed.
        let proxy = try ProxyHarness()
        defer { proxy.stop() }
        #expect(try stream(proxy).status == 200)
        // Upstream error-event series appear once an upstream sent one.
        #expect(try stream(proxy, headers: [("x-mock-error-event", "1")]).status == 200)
        let m = try proxy.metrics(within: .seconds(5)) { $0.value("sluice_requests_total") == 2 }
        let missing = MetricCatalog.entries.filter { $0.owner == .engine }.map(\.name).filter { !m.has($0) }
        // Filter-decision series appear only once a filter decides something.
        #expect(missing == ["sluice_filter_decisions_total"])
    }

    @Test func aCustomFilterThatClashesWithAProxyMetricIsDiscardedNotFatal() throws {
        let registry = BuiltinFilters.registry()
        registry.register("clashing_metrics_test") { ClashingMetricsTestFilter($0) }
        let proxy = try ProxyHarness(chain: "- filter: clashing_metrics_test", registry: registry)
        defer { proxy.stop() }
        #expect(try stream(proxy).status == 200)
        let m = try proxy.metrics(within: .seconds(5)) { $0.value("sluice_requests_total") == 1 }
        #expect(m.types["sluice_requests_total"] == "counter")
        #expect(m.value("sluice_requests_total") == 1)
        // Its own, well-formed metric is served.
        #expect(m.value("custom_filter_requests_total", ["chain": "main", "filter": "clashing_metrics_test"]) == 1)
    }

    /// A mock whose streams last 20 s (400 tokens at 20 per second): they are still running while a
    /// test looks at them.
    static var longStreams: MockSettings {
        var settings = ProxyHarness.fastMock
        settings.tokensPerSecond = 20
        settings.tokens = 400
        return settings
    }

    /// Connects to `port` and sends a streaming chat request, leaving the response for the caller.
    static func startStream(_ port: Int) throws -> TestClient {
        let client = try TestClient(port: port)
        let body = TestClient.chatRequest()
        try client.sendRaw(Array("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)".utf8))
        return client
    }
}

/// Asks for a proxy-owned name with the wrong kind (which Prometheus would refuse by stopping the
/// process) and for a name of its own.
final class ClashingMetricsTestFilter: Filter {
    let clash: Gauge
    let own: Counter
    init(_ setup: FilterSetup) {
        clash = Gauge(label: "sluice_requests_total", dimensions: setup.metricDimensions, factory: setup.metrics)
        own = Counter(label: "custom_filter_requests_total", dimensions: setup.metricDimensions, factory: setup.metrics)
    }
    func onRequest(_ exchange: Exchange) -> Decision {
        clash.record(42)
        own.increment()
        return .next
    }
}
