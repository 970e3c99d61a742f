import SluiceFilterAPI
import SluiceFilters
import SluiceHTTP
import SluiceTesting
import Testing

/// An error the upstream reports inside its stream (OpenAI `data: {"error": …}`, Anthropic
/// `event: error`) reaches the client as the upstream sent it, and the exchange is counted as what
/// it is: outcome `upstream_error` with the error's type, in the access log and the metrics.
@Suite(.serialized)
struct UpstreamErrorEventTests {
    private static let anthropicRequest = #"{"model":"claude-mock","max_tokens":8,"stream":true,"messages":[{"role":"user","content":"hi"}]}"#

    @Test func anOpenAIErrorEventAfterContentIsAnUpstreamError() throws {
        let log = AccessLogFile()
        let proxy = try ProxyHarness(filterFile: ProxyHarness.filterFile(), accessLog: log.spec)
        defer { proxy.stop() }
        let response = try TestClient.post(port: proxy.port, path: "/v1/chat/completions", json: TestClient.chatRequest(),
                                           headers: [("x-mock-error-event", "2"), ("x-request-id", "err-openai")])
        #expect(response.status == 200)
        // The upstream's own event, passed on as it came.
        let last = try #require(response.sseEvents.last)
        #expect(last.data.contains(#""type":"server_error""#), "\(last.data)")
        #expect(response.sseEvents.filter { $0.data.contains(#""content":" "#) }.count == 2)

        let entry = try log.entry(requestID: "err-openai", afterLines: 1)
        #expect(entry["outcome"] as? String == "upstream_error")
        #expect(entry["error"] as? String == "upstream_error")
        #expect(entry["upstream_error_type"] as? String == "server_error")
        #expect((entry["error_message"] as? String)?.contains("mock error event") == true)
        #expect(entry["level"] as? String == "warning")

        let m = try proxy.metrics(within: .seconds(5)) { $0.value("sluice_requests_total") == 1 }
        #expect(m.value("sluice_requests_total", ["route": "all", "outcome": "upstream_error"]) == 1)
        #expect(m.value("sluice_errors_total", ["kind": "upstream_error"]) == 1)
        #expect(m.value("sluice_upstream_error_events_total", ["route": "all", "type": "server_error"]) == 1)
    }

    @Test func anAnthropicErrorEventBeforeContentIsAnUpstreamErrorWithItsType() throws {
        let log = AccessLogFile()
        let proxy = try ProxyHarness(filterFile: ProxyHarness.filterFile(), accessLog: log.spec)
        defer { proxy.stop() }
        let response = try TestClient.post(port: proxy.port, path: "/v1/messages", json: Self.anthropicRequest,
                                           headers: [("x-mock-error-event", "0"), ("x-request-id", "err-anthropic")])
        #expect(response.status == 200)
        let last = try #require(response.sseEvents.last)
        #expect(last.event == "error")
        #expect(last.data.contains("overloaded_error"))
        let entry = try log.entry(requestID: "err-anthropic", afterLines: 1)
        #expect(entry["outcome"] as? String == "upstream_error")
        #expect(entry["upstream_error_type"] as? String == "overloaded_error")
        let m = try proxy.metrics(within: .seconds(5)) { $0.value("sluice_requests_total") == 1 }
        #expect(m.value("sluice_upstream_error_events_total", ["type": "overloaded_error"]) == 1)
    }

    /// With `hold_until_first_token`, an error event before content is retried; when the last
    /// attempt fails the same way, the log says that every attempt did.
    @Test func whenEveryHeldAttemptGetsAnErrorEventTheLogSaysSo() throws {
        let log = AccessLogFile()
        let file = ProxyHarness.filterFile(chain: """
        - filter: retry
          config: { max_attempts: 3, hold_until_first_token: true, backoff_base: 1ms, backoff_max: 1ms, budget_min: 10 }
        """)
        let proxy = try ProxyHarness(filterFile: file, accessLog: log.spec)
        defer { proxy.stop() }
        let response = try TestClient.post(port: proxy.port, path: "/v1/chat/completions", json: TestClient.chatRequest(),
                                           headers: [("x-mock-error-event", "0"), ("x-request-id", "err-retried")])
        #expect(response.status == 200)
        #expect(response.sseEvents.last?.data.contains(#""type":"server_error""#) == true)
        #expect(proxy.upstream.journal.entries.count == 3)
        let entry = try log.entry(requestID: "err-retried", afterLines: 1)
        #expect(entry["outcome"] as? String == "upstream_error")
        #expect(entry["retries"] as? Int == 2)
        let message = try #require(entry["error_message"] as? String)
        #expect(message.hasPrefix("every attempt (3) got an error event"), "\(message)")
    }
}
