import SluiceTesting
import Testing

/// Every built-in filter in one chain, in two orders: streams still flow, and each filter still decides.
@Suite(.serialized)
struct FullChainTests {
    static let filters = [
        "- filter: connection_manager\n  config: { max_streams: 100, max_streams_per_client: 50 }",
        "- filter: token_bucket\n  config: { capacity: 3, refill_per_second: 0 }",
        "- filter: admission\n  config: { max_active_streams: 50 }",
        "- filter: timeouts\n  config: { connect: 5s, response_head: 10s, first_token: 10s, between_tokens: 10s, total: 60s }",
        "- filter: backpressure\n  config: { high_watermark: 256KiB, slow_client_timeout: 30s }",
        "- filter: retry\n  config: { max_attempts: 2 }",
        "- filter: circuit_breaker\n  config: { failures: 50 }",
    ]

    @Test(arguments: [false, true])
    func allBuiltinsInOneChain(reversed: Bool) throws {
        let chain = (reversed ? Self.filters.reversed() : Self.filters).joined(separator: "\n")
        let proxy = try ProxyHarness(chain: chain)
        defer { proxy.stop() }
        for _ in 0..<3 {
            let response = try TestClient.post(port: proxy.port, path: "/v1/chat/completions",
                                               json: TestClient.chatRequest(includeUsage: true))
            #expect(response.status == 200)
            #expect(response.ending == .complete)
            #expect(response.sseEvents.last?.data == "[DONE]")
            #expect(response.head.headers["ratelimit-limit"] == "3")
        }
        // The bucket of 3 is empty now: the fourth request is refused before reaching the upstream.
        let refused = try TestClient.post(port: proxy.port, path: "/v1/chat/completions", json: TestClient.chatRequest())
        #expect(refused.status == 429)
        #expect(refused.head.headers["ratelimit-remaining"] == "0")
        #expect(refused.bodyText.contains("\"type\":\"rate_limited\""))
        #expect(proxy.upstream.journal.entries.count == 3)
    }
}
