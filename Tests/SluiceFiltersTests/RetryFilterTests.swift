import Foundation
import SluiceFilterAPI
import SluiceFilters
import SluiceHTTP
import SluiceMock
import SluiceTesting
import Testing

/// `retry` over real sockets: failover to the other endpoint, Retry-After, replay limit, holding the
/// head until the first token, and never retrying once the client got a byte.
@Suite(.serialized)
struct RetryFilterTests {
    private func chat(_ port: Int, stream: Bool = true, id: String? = nil, headers: [(String, String)] = [],
                      json: String? = nil) throws -> TestResponse {
        var fields = headers
        if let id { fields.append(("x-request-id", id)) }
        return try TestClient.post(port: port, path: "/v1/chat/completions", json: json ?? TestClient.chatRequest(stream: stream),
                                   headers: fields)
    }

    private func contentEvents(_ response: TestResponse) -> [SSEEvent] {
        response.sseEvents.filter { $0.data.contains(#""content":" "#) }
    }

    /// A whole, clean stream: 10 content events, `[DONE]` last, no error event anywhere.
    private func expectCleanStream(_ response: TestResponse, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(response.status == 200, sourceLocation: sourceLocation)
        #expect(response.ending == .complete, sourceLocation: sourceLocation)
        #expect(contentEvents(response).count == 10, sourceLocation: sourceLocation)
        #expect(response.sseEvents.last?.data == "[DONE]", sourceLocation: sourceLocation)
        #expect(!response.sseEvents.contains { $0.data.contains(#""error""#) }, "\(response.bodyText)",
                sourceLocation: sourceLocation)
    }

    @Test func a503IsRetriedOnTheOtherEndpoint() throws {
        let bad = try startMock(failingWith: [("x-mock-status", "503")])
        defer { bad.stop() }
        let proxy = try ProxyHarness(filterFile: pairFile(["http://127.0.0.1:\(bad.port)", "{{upstream}}"], chain: """
            - filter: retry
              config: { backoff_base: 10ms }
            """), workers: 1)
        defer { proxy.stop() }
        for i in 0..<2 { expectCleanStream(try chat(proxy.port, id: "retry-\(i)")) }
        let good = proxy.upstream.journal.entries
        #expect(good.count == 2)
        // Round robin starts at the first endpoint, the failing one; each retry went to the other.
        let failed = bad.journal.entries
        #expect(failed.count >= 1)
        #expect(failed.count + good.count <= 4)
        let goodIDs = Set(good.compactMap { $0.head.headers["x-request-id"] })
        for entry in failed { #expect(goodIDs.contains(entry.head.headers["x-request-id"] ?? "?")) }
        // The retried request is the same request, body included.
        #expect(good.allSatisfy { $0.bodyText == TestClient.chatRequest(stream: true) })
    }

    @Test func aConnectFailureIsRetriedOnTheOtherEndpoint() throws {
        let proxy = try ProxyHarness(filterFile: pairFile(["http://127.0.0.1:1", "{{upstream}}"], chain: """
            - filter: retry
              config: { backoff_base: 10ms }
            """), workers: 1)
        defer { proxy.stop() }
        for _ in 0..<4 { expectCleanStream(try chat(proxy.port)) }
        #expect(proxy.upstream.journal.entries.count == 4)
    }

    @Test func attemptsAreLimitedAndTheLastAnswerReachesTheClient() throws {
        let proxy = try ProxyHarness(chain: """
            - filter: retry
              config: { max_attempts: 3, backoff_base: 5ms }
            """, workers: 1)
        defer { proxy.stop() }
        let response = try chat(proxy.port, headers: [("x-mock-status", "503")])
        #expect(response.status == 503)
        #expect(proxy.upstream.journal.entries.count == 3)
    }

    @Test func statusesOutsideTheListAreNotRetried() throws {
        let proxy = try ProxyHarness(chain: """
            - filter: retry
              config: { statuses: [503], backoff_base: 5ms }
            """, workers: 1)
        defer { proxy.stop() }
        #expect(try chat(proxy.port, headers: [("x-mock-status", "502")]).status == 502)
        #expect(proxy.upstream.journal.entries.count == 1)
        #expect(try chat(proxy.port, headers: [("x-mock-status", "400")]).status == 400)
        #expect(proxy.upstream.journal.entries.count == 2)
    }

    @Test func aBodyOverTheReplayLimitIsNotRetried() throws {
        let proxy = try ProxyHarness(chain: """
            - filter: retry
              config: { replay_limit: 1KiB, backoff_base: 5ms }
            """, workers: 1)
        defer { proxy.stop() }
        let padding = String(repeating: "x", count: 4096)
        let big = #"{"model":"m","messages":[{"role":"user","content":"\#(padding)"}],"stream":true}"#
        let refused = try chat(proxy.port, headers: [("x-mock-status", "503")], json: big)
        #expect(refused.status == 502)  // the engine's answer: the 503 could not be retried
        #expect(proxy.upstream.journal.entries.count == 1)

        // Under the limit the same failure is retried (3 attempts in all).
        let small = try chat(proxy.port, headers: [("x-mock-status", "503")])
        #expect(small.status == 503)
        #expect(proxy.upstream.journal.entries.count == 4)
    }

    @Test func holdUntilFirstTokenRetriesAnErrorEventTheClientNeverSees() throws {
        let bad = try startMock(failingWith: [("x-mock-error-event", "0")])
        defer { bad.stop() }
        let proxy = try ProxyHarness(filterFile: pairFile(["http://127.0.0.1:\(bad.port)", "{{upstream}}"], chain: """
            - filter: retry
              config: { hold_until_first_token: true, backoff_base: 20ms }
            """), workers: 1)
        defer { proxy.stop() }
        for i in 0..<2 { expectCleanStream(try chat(proxy.port, id: "held-\(i)")) }
        #expect(bad.journal.entries.count >= 1)
        #expect(proxy.upstream.journal.entries.count == 2)
    }

    @Test func withoutHoldingTheErrorEventReachesTheClient() throws {
        let proxy = try ProxyHarness(chain: """
            - filter: retry
              config: { backoff_base: 5ms }
            """, workers: 1)
        defer { proxy.stop() }
        let response = try chat(proxy.port, headers: [("x-mock-error-event", "0")])
        #expect(response.status == 200)
        #expect(response.sseEvents.contains { $0.data.contains(#""error""#) })
        #expect(proxy.upstream.journal.entries.count == 1)
    }

    @Test func aHeldHeadGoesOutAfterHoldMax() throws {
        let proxy = try ProxyHarness(chain: """
            - filter: retry
              config: { hold_until_first_token: true, hold_max: 100ms }
            """, workers: 1)
        defer { proxy.stop() }
        let client = try TestClient(port: proxy.port)
        defer { client.close() }
        var fields = HTTPHeadersForTest.chat(port: proxy.port)
        fields.add("x-mock-ttft", "1s")
        try client.send(.init(method: "POST", target: "/v1/chat/completions", headers: fields),
                        body: Array(TestClient.chatRequest().utf8))
        let started = ContinuousClock.now
        let head = try client.readHead(timeout: .seconds(2))
        #expect(head.status == 200)
        #expect(ContinuousClock.now - started < .milliseconds(800))
        let response = try client.readResponse(timeout: .seconds(10))
        expectCleanStream(response)
        #expect(proxy.upstream.journal.entries.count == 1)
    }

    @Test func aStreamThatFailsMidwayEndsWithAnErrorEventAndIsNotRetried() throws {
        let proxy = try ProxyHarness(chain: """
            - filter: retry
              config: { hold_until_first_token: true, max_attempts: 5, backoff_base: 5ms }
            """, workers: 1)
        defer { proxy.stop() }
        let response = try chat(proxy.port, headers: [("x-mock-reset-after", "3")])
        #expect(response.status == 200)
        #expect(response.ending == .truncated)
        #expect(contentEvents(response).count == 3)
        let last = try #require(response.sseEvents.last)
        #expect(last.data.contains(#""type":"upstream_reset""#), "\(last.data)")
        #expect(!response.sseEvents.contains { $0.data == "[DONE]" })
        #expect(proxy.upstream.journal.entries.count == 1)
    }

    @Test func configProblemsAreReported() {
        let cases = [
            "{ max_attempts: 0 }",
            "{ backoff_base: 1s, backoff_max: 10ms }",
            "{ statuses: [503, 200] }",
            "{ statuses: 503x }",
            "{ budget_ratio: 1.5 }",
            "{ replay_limit: lots }",
            "{ hold_until_first_token: yes }",
            "{ retries: 3 }",
        ]
        for config in cases {
            #expect(throws: (any Error).self, "\(config)") {
                let proxy = try ProxyHarness(chain: "- filter: retry\n  config: \(config)")
                proxy.stop()
            }
        }
    }

    @Test func retryAndCircuitBreakerTogetherKeepClientsWhole() throws {
        let bad = try startMock(failingWith: [("x-mock-status", "503")])
        defer { bad.stop() }
        let proxy = try ProxyHarness(filterFile: pairFile(["http://127.0.0.1:\(bad.port)", "{{upstream}}"], chain: """
            - filter: retry
              config: { backoff_base: 5ms }
            - filter: circuit_breaker
              config: { failures: 2, open_duration: 1m }
            """), workers: 1, clock: ManualClock())
        defer { proxy.stop() }
        for _ in 0..<6 { expectCleanStream(try chat(proxy.port)) }
        // Two failures opened the breaker; after that nothing went to the failing endpoint.
        #expect(bad.journal.entries.count == 2)
        #expect(proxy.upstream.journal.entries.count == 6)
    }
}

/// Request headers for a chat request to the proxy.
enum HTTPHeadersForTest {
    static func chat(port: Int) -> HTTPHeaders {
        HTTPHeaders([("host", "127.0.0.1:\(port)"), ("content-type", "application/json")])
    }
}
