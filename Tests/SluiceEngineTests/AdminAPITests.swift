import Dispatch
import Foundation
import SluiceConfig
import SluiceEngine
import SluiceFilterAPI
import SluiceFilters
import SluiceTesting
import Testing

/// The admin listener's JSON endpoints: `/admin/streams`, `/admin/chain`, and what it answers to
/// requests it does not serve.
@Suite(.serialized)
struct AdminAPITests {
    private func json(_ response: TestResponse) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any])
    }

    @Test func liveStreamsAreListedWithTheirStateAndTokens() throws {
        let proxy = try ProxyHarness(upstreamSettings: MetricsTests.longStreams)
        defer { proxy.stop() }
        let client = try MetricsTests.startStream(proxy.port)
        defer { client.close() }
        _ = try client.readHead()
        for _ in 0..<3 { _ = try client.readItem() }
        let answer = try proxy.admin("GET", "/admin/streams")
        #expect(answer.status == 200)
        #expect(answer.head.headers["content-type"] == "application/json")
        let body = try json(answer)
        #expect(body["complete"] as? Bool == true)
        let streams = try #require(body["streams"] as? [[String: Any]])
        #expect(streams.count == 1)
        let stream = try #require(streams.first)
        #expect(stream["route"] as? String == "all")
        #expect(stream["state"] as? String == "streaming")
        #expect((stream["endpoint"] as? String)?.hasPrefix("fake/") == true)
        // Three events read: the role-only preamble and two content events.
        #expect((stream["tokens"] as? Int ?? 0) >= 2)
        #expect((stream["age_ms"] as? Double ?? 0) > 0)
        #expect(stream["client"] as? String == "127.0.0.1")
        #expect((stream["id"] as? String)?.isEmpty == false)
        client.close()
        let drained = try proxy.metrics(within: .seconds(5)) { $0.value("sluice_requests_total") == 1 }
        #expect(drained.value("sluice_requests_total") == 1)
        let empty = try json(try proxy.admin("GET", "/admin/streams"))
        #expect((empty["streams"] as? [Any])?.isEmpty == true)
    }

    @Test func aQueuedRequestShowsAsQueued() throws {
        let proxy = try ProxyHarness(chain: "- filter: admission\n  config: { max_active_streams: 1 }", upstreamSettings: MetricsTests.longStreams)
        defer { proxy.stop() }
        let first = try MetricsTests.startStream(proxy.port)
        defer { first.close() }
        _ = try first.readHead()
        let second = try MetricsTests.startStream(proxy.port)
        defer { second.close() }
        _ = try proxy.metrics(within: .seconds(5)) { $0.value("sluice_admission_queue_length") == 1 }
        let streams = try #require(try json(try proxy.admin("GET", "/admin/streams"))["streams"] as? [[String: Any]])
        #expect(streams.compactMap { $0["state"] as? String }.sorted() == ["queued", "streaming"])
    }

    @Test func theChainInForceIsShownWithSecretsRedacted() throws {
        let file = ProxyHarness.filterFile(chain: """
            - filter: token_bucket
              config: { key: { header: x-api-key }, capacity: 5, refill_per_second: 1 }
            - filter: secretive_test
              config: { api_key: sk-should-not-show, mode: strict }
            - filter: timeouts
              config: { first_token: 5s }
            """)
        let registry = BuiltinFilters.registry()
        registry.register("secretive_test") { setup in
            _ = setup.config.string("api_key")
            _ = setup.config.string("mode")
            return PassThroughTestFilter()
        }
        let proxy = try ProxyHarness(filterFile: file, registry: registry)
        defer { proxy.stop() }
        let answer = try proxy.admin("GET", "/admin/chain")
        #expect(answer.status == 200)
        #expect(!answer.bodyText.contains("sk-should-not-show"))
        let body = try json(answer)
        #expect(body["version"] as? Int == 1)
        let chains = try #require(body["chains"] as? [[String: Any]])
        let filters = try #require(chains.first?["filters"] as? [[String: Any]])
        #expect(filters.map { $0["type"] as? String } == ["token_bucket", "secretive_test", "timeouts"])
        // A timer's name that ends in "token" is no secret.
        #expect((filters[2]["config"] as? [String: Any])?["first_token"] as? String == "5s")
        let bucket = try #require(filters[0]["config"] as? [String: Any])
        #expect(bucket["capacity"] as? String == "5")
        #expect((bucket["key"] as? [String: Any])?["header"] as? String == "x-api-key")
        let secretive = try #require(filters[1]["config"] as? [String: Any])
        #expect(secretive["api_key"] as? String == "<redacted>")
        #expect(secretive["mode"] as? String == "strict")
        #expect((body["routes"] as? [[String: Any]])?.first?["chain"] as? String == "main")
    }

    @Test func unknownPathsAndWrongMethodsGetJSONErrors() throws {
        let proxy = try ProxyHarness()
        defer { proxy.stop() }
        #expect(try proxy.admin("GET", "/nope").status == 404)
        #expect(try proxy.admin("POST", "/metrics").status == 405)
        #expect(try proxy.admin("GET", "/healthz").status == 200)
        #expect(try proxy.admin("GET", "/metrics?debug=1").status == 200)
    }

    @Test func healthzFailsWhileAWorkerIsStuckAndRecoversAfter() throws {
        let registry = BuiltinFilters.registry()
        registry.register("blocking_test") { _ in BlockingTestFilter() }
        let proxy = try ProxyHarness(filterFile: ProxyHarness.filterFile(chain: "- filter: blocking_test"), registry: registry,
                                     workers: 1, options: { $0.stuckWorkerThreshold = .milliseconds(400) })
        defer { proxy.stop() }
        #expect(try proxy.admin("GET", "/healthz").status == 200)
        let port = proxy.port
        let done = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            _ = try? TestClient.post(port: port, path: "/v1/chat/completions", json: TestClient.chatRequest())
            done.signal()
        }
        var sawStuck = false
        let deadline = ContinuousClock.now + .seconds(5)
        while !sawStuck, ContinuousClock.now < deadline {
            let answer = try proxy.admin("GET", "/healthz")
            if answer.status == 503 {
                sawStuck = true
                let body = try json(answer)
                #expect(body["status"] as? String == "stuck")
                #expect(body["worker"] as? Int == 0)
            }
            Thread.sleep(forTimeInterval: 0.05)
        }
        #expect(sawStuck)
        // The lag shows on /metrics too while the worker is stuck or just after.
        #expect(done.wait(timeout: .now() + 10) == .success)
        let recovered = try proxy.metrics(within: .seconds(5)) { _ in (try? proxy.admin("GET", "/healthz").status) == 200 }
        #expect(recovered.has("sluice_event_loop_lag_seconds"))
        #expect(try proxy.admin("GET", "/healthz").status == 200)
    }

    @Test func requestsNoRouteTookAreCountedUnderNone() throws {
        let file = ProxyHarness.filterFile().replacingOccurrences(of: "path_prefix: /", with: "path_prefix: /v1/")
        let proxy = try ProxyHarness(filterFile: file)
        defer { proxy.stop() }
        #expect(try TestClient.post(port: proxy.port, path: "/other", json: "{}").status == 404)
        let m = try proxy.metrics(within: .seconds(5)) { $0.value("sluice_requests_total", ["route": "(none)"]) == 1 }
        #expect(m.value("sluice_requests_total", ["route": "(none)", "status": "404", "outcome": "rejected"]) == 1)
        #expect(m.value("sluice_errors_total", ["kind": "not_found"]) == 1)
    }
}

final class PassThroughTestFilter: Filter {}

/// Blocks its worker's thread in `onRequest`, as a filter with a bug would.
final class BlockingTestFilter: Filter {
    func onRequest(_ exchange: Exchange) -> Decision {
        Thread.sleep(forTimeInterval: 1.5)
        return .next
    }
}
