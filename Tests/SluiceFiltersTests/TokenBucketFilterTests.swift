import Foundation
import SluiceEngine
import SluiceFilterAPI
import SluiceFilters
import SluiceHTTP
import SluiceTesting
import Synchronization
import Testing

/// The `token_bucket` filter over real sockets, in front of the fake upstream. Time is a
/// `ManualClock` handed to the proxy and moved between requests: nothing here sleeps to refill.
@Suite(.serialized)
struct TokenBucketFilterTests {
    /// The registry with `token_bucket` made through a factory that remembers the instance the
    /// engine runs, so a test can read its bucket levels.
    final class Captured: Sendable {
        private let latest = Mutex<TokenBucketFilter?>(nil)
        var filter: TokenBucketFilter? { latest.withLock { $0 } }

        func registry() -> FilterRegistry {
            let registry = BuiltinFilters.registry()
            registry.register("token_bucket") { [self] setup in
                let made = TokenBucketFilter(setup)
                latest.withLock { $0 = made }
                return made
            }
            return registry
        }

        /// Polls until the level of `key` is `expected` (settlement runs after the client has its answer).
        func waitForLevel(_ expected: Double, key: String = "127.0.0.1", timeout: Duration = .seconds(10)) -> Double? {
            let deadline = ContinuousClock.now + timeout
            var level = filter?.level(forKey: key)
            while level != expected, ContinuousClock.now < deadline {
                usleep(2_000)
                level = filter?.level(forKey: key)
            }
            return level
        }
    }

    private func post(_ proxy: ProxyHarness, id: String, json: String = TestClient.chatRequest(),
                      headers: [(String, String)] = []) throws -> TestResponse {
        try TestClient.post(port: proxy.port, path: "/v1/chat/completions", json: json,
                            headers: [("x-request-id", id)] + headers)
    }

    private func jsonObject(_ text: String) -> [String: Any]? {
        (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any]
    }

    private func contentEvents(_ response: TestResponse) -> Int {
        response.sseEvents.filter { $0.data.contains(#""content":" "#) }.count
    }

    // MARK: - Requests mode

    @Test func aRefusedRequestGets429WithEveryHeaderAndNeverReachesTheUpstream() throws {
        let clock = ManualClock()
        let proxy = try ProxyHarness(chain: "- filter: token_bucket\n  config: { capacity: 2, refill_per_second: 0.5 }",
                                     clock: clock)
        defer { proxy.stop() }

        let first = try post(proxy, id: "tb-1")
        #expect(first.status == 200)
        #expect(first.ending == .complete)
        #expect(first.head.headers.values("ratelimit-limit") == ["2"])
        #expect(first.head.headers.values("ratelimit-remaining") == ["1"])
        #expect(first.head.headers.values("ratelimit-reset") == ["2"])
        #expect(first.sseEvents.last?.data == "[DONE]")

        let second = try post(proxy, id: "tb-2")
        #expect(second.status == 200)
        #expect(second.head.headers.values("ratelimit-remaining") == ["0"])
        #expect(second.head.headers.values("ratelimit-reset") == ["4"])

        let refused = try post(proxy, id: "tb-3")
        #expect(refused.status == 429)
        #expect(refused.ending == .complete)
        #expect(refused.head.headers.values("retry-after") == ["2"])
        #expect(refused.head.headers.values("ratelimit-limit") == ["2"])
        #expect(refused.head.headers.values("ratelimit-remaining") == ["0"])
        #expect(refused.head.headers.values("ratelimit-reset") == ["4"])
        #expect(refused.head.headers["content-type"] == "application/json")
        #expect(refused.head.headers["x-request-id"] == "tb-3")
        let error = try #require(jsonObject(refused.bodyText)?["error"] as? [String: Any], "body: \(refused.bodyText)")
        #expect(error["type"] as? String == "rate_limited")
        #expect(error["code"] as? Int == 429)
        #expect((error["message"] as? String)?.contains("rate limit exceeded") == true)

        // The upstream saw the two admitted requests only.
        #expect(proxy.upstream.journal.entries.map { $0.head.headers["x-request-id"] } == ["tb-1", "tb-2"])
        // The headers are for the client, not the upstream.
        #expect(proxy.upstream.journal.entries.allSatisfy { !$0.head.headers.contains("ratelimit-limit") })
    }

    @Test func aHeaderKeyGivesEachCallerItsOwnBucketAndStaysSecret() throws {
        let captured = Captured()
        let proxy = try ProxyHarness(chain: """
            - filter: token_bucket
              config: { key: { header: x-api-key }, capacity: 1, refill_per_second: 0, cost: 1 }
            """, registry: captured.registry(), clock: ManualClock())
        defer { proxy.stop() }
        #expect(try post(proxy, id: "k-1", headers: [("x-api-key", "sk-alice")]).status == 200)
        let refused = try post(proxy, id: "k-2", headers: [("x-api-key", "sk-alice")])
        #expect(refused.status == 429)
        #expect(!refused.bodyText.contains("sk-alice"))
        // Refill 0: nothing can say when a token comes back.
        #expect(refused.head.headers["retry-after"] == nil)
        #expect(refused.head.headers["ratelimit-reset"] == nil)
        #expect(try post(proxy, id: "k-3", headers: [("x-api-key", "sk-bob")]).status == 200)
        let filter = try #require(captured.filter)
        #expect(filter.level(forKey: ClientKey.hashed("sk-alice")) == 0)
        #expect(filter.bucketCount == 2)
    }

    @Test func tenParallelRequestsAgainstFiveTokensAdmitExactlyFive() throws {
        let proxy = try ProxyHarness(chain: "- filter: token_bucket\n  config: { key: global, capacity: 5, refill_per_second: 0 }",
                                     workers: 4, clock: ManualClock())
        defer { proxy.stop() }
        let statuses = Mutex<[Int]>([])
        let port = proxy.port
        DispatchQueue.concurrentPerform(iterations: 10) { i in
            let status = (try? TestClient.post(port: port, path: "/v1/chat/completions",
                                               json: TestClient.chatRequest(), headers: [("x-request-id", "p-\(i)")]))?.status ?? -1
            statuses.withLock { $0.append(status) }
        }
        let all = statuses.withLock { $0 }
        #expect(all.filter { $0 == 200 }.count == 5, "\(all)")
        #expect(all.filter { $0 == 429 }.count == 5, "\(all)")
        #expect(proxy.upstream.journal.entries.count == 5)
    }

    // MARK: - Tokens mode

    /// The mock counts the six words of `TestClient.chatPrompt` as six prompt tokens and streams ten
    /// tokens: usage 16. Estimate: 33 characters / 4 → 9, plus `default_max_tokens`.
    @Test func tokensModeReservesThenSettlesFromUsageAndHidesTheUsageChunkItAdded() throws {
        let captured = Captured()
        let proxy = try ProxyHarness(chain: """
            - filter: token_bucket
              config: { mode: tokens, capacity: 1000, refill_per_second: 0, default_max_tokens: 100 }
            """, registry: captured.registry(), clock: ManualClock())
        defer { proxy.stop() }

        let response = try post(proxy, id: "t-1")
        #expect(response.status == 200)
        #expect(response.ending == .complete)
        // Admitted with 9 + 100 reserved.
        #expect(response.head.headers["ratelimit-limit"] == "1000")
        #expect(response.head.headers["ratelimit-remaining"] == "891")
        #expect(contentEvents(response) == 10)
        #expect(response.sseEvents.last?.data == "[DONE]")
        #expect(!response.sseEvents.contains { $0.data.contains("usage") }, "\(response.sseEvents.map(\.data))")

        // The upstream was asked for usage.
        let sent = try #require(proxy.upstream.journal.entries.first)
        let options = jsonObject(sent.bodyText)?["stream_options"] as? [String: Any]
        #expect(options?["include_usage"] as? Bool == true, "upstream got \(sent.bodyText)")
        #expect(sent.head.headers["content-length"] == String(sent.body.count))

        // Settled: what was not used went back (1000 − 16).
        #expect(captured.waitForLevel(984) == 984)
    }

    @Test func tokensModeLeavesTheUsageChunkToAClientThatAskedForIt() throws {
        let captured = Captured()
        let proxy = try ProxyHarness(chain: """
            - filter: token_bucket
              config: { mode: tokens, capacity: 1000, refill_per_second: 0, default_max_tokens: 100 }
            """, registry: captured.registry(), clock: ManualClock())
        defer { proxy.stop() }
        let asked = TestClient.chatRequest(includeUsage: true)
        let response = try post(proxy, id: "t-2", json: asked)
        #expect(response.status == 200)
        #expect(response.sseEvents.contains { $0.data.contains(#""completion_tokens":10"#) })
        #expect(proxy.upstream.journal.entries.first?.bodyText == asked, "the client's body is passed on untouched")
        #expect(captured.waitForLevel(984) == 984)
    }

    @Test func tokensModeRefusesWhatTheRemainingTokensCannotCover() throws {
        let captured = Captured()
        let proxy = try ProxyHarness(chain: """
            - filter: token_bucket
              config: { mode: tokens, capacity: 100, refill_per_second: 0 }
            """, registry: captured.registry(), clock: ManualClock())
        defer { proxy.stop() }
        // 9 + 500 is more than the bucket holds: it needs (and gets) a full bucket.
        let large = try post(proxy, id: "t-large", json: TestClient.chatRequest(maxTokens: 500))
        #expect(large.status == 200)
        #expect(large.head.headers["ratelimit-remaining"] == "0")
        #expect(captured.waitForLevel(84) == 84)

        // 9 + 80 = 89 > 84 left.
        let refused = try post(proxy, id: "t-refused", json: TestClient.chatRequest(maxTokens: 80))
        #expect(refused.status == 429)
        #expect(refused.head.headers["ratelimit-remaining"] == "84")
        #expect(refused.head.headers["retry-after"] == nil)
        // 9 + 70 = 79 fits.
        let fits = try post(proxy, id: "t-fits", json: TestClient.chatRequest(maxTokens: 70))
        #expect(fits.status == 200)
        #expect(fits.head.headers["ratelimit-remaining"] == "5")
        #expect(proxy.upstream.journal.entries.map { $0.head.headers["x-request-id"] } == ["t-large", "t-fits"])
        #expect(captured.waitForLevel(68) == 68)
    }

    @Test func tokensModeChargesWhatWasCountedWhenTheClientLeaves() throws {
        let captured = Captured()
        let proxy = try ProxyHarness(chain: """
            - filter: token_bucket
              config: { mode: tokens, capacity: 10000, refill_per_second: 0, default_max_tokens: 1000 }
            """, registry: captured.registry(), clock: ManualClock())
        defer { proxy.stop() }
        let client = try TestClient(port: proxy.port)
        var fields = HTTPHeaders([("host", "x"), ("content-type", "application/json"),
                                  ("x-mock-tokens", "500"), ("x-mock-tps", "50")])
        fields.add("x-request-id", "t-gone")
        try client.send(HTTPRequestHead(method: "POST", target: "/v1/chat/completions", headers: fields),
                        body: Array(TestClient.chatRequest().utf8))
        #expect(try client.readHead().status == 200)
        var content = 0
        while content < 3, let item = try client.readItem() {
            if item.event?.data.contains(#""content":" "#) == true { content += 1 }
        }
        client.close()
        #expect(proxy.upstream.journal.wait { $0.first?.ending == .cancelledByPeer })
        let filter = try #require(captured.filter)
        // Reserved 9 + 1000; charged 9 + the few content events the proxy forwarded.
        let deadline = ContinuousClock.now + .seconds(10)
        while filter.level(forKey: "127.0.0.1") < 9000, ContinuousClock.now < deadline { usleep(2_000) }
        let level = filter.level(forKey: "127.0.0.1")
        #expect(level <= 10000 - 9 - 3 && level > 10000 - 9 - 100, "level \(level)")
    }

    // MARK: - Config

    @Test func configProblemsComeOutPositionedFromTheFilterFile() {
        let text = """
            listeners:
              - address: 127.0.0.1:0
            upstreams:
              fake:
                endpoints: ["http://127.0.0.1:9"]
            routes:
              - path_prefix: /
                chain: main
                upstream: fake
            chains:
              main:
                - filter: token_bucket
                  config:
                    capacity: 10
                    refill_per_second: 1
                    mode: token

            """
        switch FilterFileLoading.parse(text: text, path: "limits.yaml", registry: BuiltinFilters.registry()) {
        case .success:
            Issue.record("an invalid mode was accepted")
        case .failure(let errors):
            let lines = errors.errors.map(\.description)
            #expect(lines.count == 1, "\(lines)")
            #expect(lines.first?.hasPrefix("limits.yaml:16:15: 'mode' must be one of requests, tokens; got") == true, "\(lines)")
        }
    }
}
