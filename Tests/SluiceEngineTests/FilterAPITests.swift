import Foundation
import SluiceFilterAPI
import SluiceHTTP
import SluiceIO
import SluiceMock
import SluiceTesting
import Testing

/// The public filter API does what its doc comments promise, seen from filters (`TestFilters.swift`)
/// and from a client over real sockets.
@Suite(.serialized)
struct FilterAPITests {
    // MARK: - Helpers

    /// POSTs a chat request with `X-Request-Id: id`, so the probe's notes can be matched to it.
    private func post(_ port: Int, id: String, path: String = "/v1/chat/completions", headers: [(String, String)] = [],
                      json: String = TestClient.chatRequest()) throws -> TestResponse {
        try TestClient.post(port: port, path: path, json: json, headers: [("x-request-id", id)] + headers)
    }

    private func chatHead(_ port: Int, id: String, headers: [(String, String)] = []) -> HTTPRequestHead {
        var fields = HTTPHeaders([("host", "127.0.0.1:\(port)"), ("content-type", "application/json"), ("x-request-id", id)])
        for (n, v) in headers { fields.add(n, v) }
        return HTTPRequestHead(method: "POST", target: "/v1/chat/completions", headers: fields)
    }

    private func contentEvents(_ response: TestResponse) -> [SSEEvent] {
        response.sseEvents.filter { $0.data.contains(#""content":" "#) }
    }

    /// The body as a JSON object (nil when it is not one).
    private func jsonObject(_ bytes: [UInt8]) -> [String: Any]? {
        (try? JSONSerialization.jsonObject(with: Data(bytes))) as? [String: Any]
    }

    // MARK: - 1. Order

    @Test func requestHooksRunInFileOrderResponseHooksAndCompletionInReverse() throws {
        let probe = FilterProbe()
        let proxy = try ProxyHarness(chain: """
            - filter: record
              name: a
              config: { events: true }
            - filter: record
              name: b
              config: { events: true, body_limit: 4KiB }
            - filter: record
              name: c
              config: { events: true }
            """, registry: TestFilters.registry(probe))
        defer { proxy.stop() }
        let response = try post(proxy.port, id: "order-1")
        #expect(response.status == 200)
        #expect(response.ending == .complete)
        #expect(probe.waitForCompletion(of: "order-1", filters: 3))

        let calls = probe.notes(for: "order-1").map(\.call)
        func only(_ hook: String) -> [String] { calls.filter { $0.hasSuffix("." + hook) } }
        #expect(only("onRequest") == ["a.onRequest", "b.onRequest", "c.onRequest"])
        #expect(only("onRequestBody") == ["a.onRequestBody", "b.onRequestBody", "c.onRequestBody"])
        #expect(only("selectUpstream") == ["a.selectUpstream", "b.selectUpstream", "c.selectUpstream"])
        #expect(only("onResponseHead") == ["c.onResponseHead", "b.onResponseHead", "a.onResponseHead"])
        let events = only("onEvent")
        #expect(events.count == 3 * response.sseEvents.count)
        #expect(events == Array(repeating: ["c.onEvent", "b.onEvent", "a.onEvent"], count: response.sseEvents.count).flatMap { $0 })
        #expect(only("onComplete") == ["c.onComplete", "b.onComplete", "a.onComplete"])
        #expect(only("onUpstreamError").isEmpty)

        // And the phases in their order: every onRequest before every onRequestBody, and so on.
        let phases = ["onRequest", "onRequestBody", "selectUpstream", "onResponseHead", "onEvent", "onComplete"]
        let ranks = calls.compactMap { call in phases.firstIndex { call.hasSuffix("." + $0) } }
        #expect(ranks == ranks.sorted(), "hooks out of phase order: \(calls)")
        #expect(calls.last == "a.onComplete")
        #expect(probe.lateCalls.isEmpty, "hooks after onComplete: \(probe.lateCalls)")
    }

    /// `hooks`: "The hooks this filter implements; the engine does not call the others." A filter
    /// that lists only some is walked past for the rest, and its neighbours are called as before.
    @Test func aFilterIsCalledOnlyForTheHooksItLists() throws {
        let probe = FilterProbe()
        let proxy = try ProxyHarness(chain: """
            - filter: record
              name: a
              config: { hooks: [onRequest, onComplete], body_limit: 4KiB }
            - filter: record
              name: b
              config: { body_limit: 4KiB }
            """, registry: TestFilters.registry(probe))
        defer { proxy.stop() }
        let response = try post(proxy.port, id: "hooks-1")
        #expect(response.status == 200)
        #expect(probe.waitForCompletion(of: "hooks-1", filters: 2))
        let walked = ["onRequest", "onRequestBody", "selectUpstream", "onResponseHead", "onComplete"]
        let calls = probe.notes(for: "hooks-1").filter { walked.contains($0.hook) }.map(\.call)
        #expect(calls == ["a.onRequest", "b.onRequest", "b.onRequestBody", "b.selectUpstream", "b.onResponseHead",
                          "b.onComplete", "a.onComplete"])
    }

    /// `onResponseChunk`: "A piece of the response body arrived from the upstream, before it goes to
    /// the client. In reverse order."
    @Test func responseChunkHooksRunInReverseOrder() throws {
        let probe = FilterProbe()
        let proxy = try ProxyHarness(chain: """
            - filter: record
              name: a
            - filter: record
              name: b
            """, registry: TestFilters.registry(probe))
        defer { proxy.stop() }
        let response = try post(proxy.port, id: "chunks-1")
        #expect(response.status == 200)
        #expect(probe.waitForCompletion(of: "chunks-1", filters: 2))
        let notes = probe.notes(for: "chunks-1").filter { $0.hook == "onResponseChunk" }
        #expect(!notes.isEmpty)
        #expect(notes.map(\.filter) == Array(repeating: ["b", "a"], count: notes.count / 2).flatMap { $0 })
        let bytes = notes.filter { $0.filter == "a" }.compactMap { Int($0.detail) }.reduce(0, +)
        #expect(bytes > 0)
    }

    // MARK: - 2. onComplete for every ending

    @Test func onCompleteRunsExactlyOncePerFilterForEveryEnding() throws {
        let probe = FilterProbe()
        let proxy = try ProxyHarness(filterFile: """
            listeners:
              - name: test
                address: 127.0.0.1:0
            upstreams:
              fake:
                endpoints: ["{{upstream}}"]
              dead:
                endpoints: ["http://127.0.0.1:1"]
            routes:
              - name: dead
                path_prefix: /dead/
                chain: main
                upstream: dead
              - name: all
                path_prefix: /
                chain: main
                upstream: fake
            chains:
              main:
                - filter: record
                  name: a
                  config: { reject_on_header: x-test-reject }
                - filter: record
                  name: b

            """, registry: TestFilters.registry(probe), workers: 1)
        defer { proxy.stop() }

        // A stream that completes.
        let completed = try post(proxy.port, id: "end-completed")
        #expect(completed.status == 200 && completed.ending == .complete)
        #expect(probe.waitForCompletion(of: "end-completed", filters: 2))

        // Refused by the first filter: the second one's onRequest never runs, its onComplete does.
        let rejected = try post(proxy.port, id: "end-rejected", headers: [("x-test-reject", "1")])
        #expect(rejected.status == 403)
        #expect(probe.waitForCompletion(of: "end-rejected", filters: 2))
        #expect(probe.notes(for: "end-rejected").map(\.call) == ["a.onRequest", "b.onComplete", "a.onComplete"])

        // The client leaves mid-stream.
        let client = try TestClient(port: proxy.port)
        try client.send(chatHead(proxy.port, id: "end-client-gone", headers: [("x-mock-tokens", "500"), ("x-mock-tps", "50")]),
                        body: Array(TestClient.chatRequest().utf8))
        #expect(try client.readHead().status == 200)
        var content = 0
        while content < 2, let item = try client.readItem() {
            if item.event?.data.contains(#""content":" "#) == true { content += 1 }
        }
        client.close()
        #expect(probe.waitForCompletion(of: "end-client-gone", filters: 2))

        // The upstream resets mid-stream.
        let reset = try post(proxy.port, id: "end-reset", headers: [("x-mock-reset-after", "3")])
        #expect(reset.status == 200)
        #expect(reset.ending == .truncated)
        #expect(probe.waitForCompletion(of: "end-reset", filters: 2))

        // Nobody listens at the upstream.
        let failed = try post(proxy.port, id: "end-failed", path: "/dead/v1/chat/completions")
        #expect(failed.status == 502)
        #expect(probe.waitForCompletion(of: "end-failed", filters: 2))

        // A last exchange on the same (single) worker: whatever the earlier ones still had queued on
        // the loop has run by the time this one completes.
        _ = try post(proxy.port, id: "end-sentinel")
        #expect(probe.waitForCompletion(of: "end-sentinel", filters: 2))

        let expected: [(String, Outcome.Kind)] = [
            ("end-completed", .completed), ("end-rejected", .rejected), ("end-client-gone", .clientGone),
            ("end-reset", .truncated), ("end-failed", .failed),
        ]
        for (id, kind) in expected {
            let completions = probe.notes(for: id).filter { $0.hook == "onComplete" }
            #expect(completions.map(\.filter) == ["b", "a"], "\(id): \(completions)")
            #expect(completions.map(\.detail) == [kind.rawValue, kind.rawValue], "\(id): \(completions)")
        }
        #expect(probe.lateCalls.isEmpty, "hooks after onComplete: \(probe.lateCalls)")
    }

    // MARK: - 3. Reject and response headers

    @Test func rejectAnswersWithStatusRetryAfterHeadersAndJSONBody() throws {
        let probe = FilterProbe()
        let proxy = try ProxyHarness(chain: "- filter: quota\n  config: { limit: 5, retry_after: 3 }",
                                     registry: TestFilters.registry(probe))
        defer { proxy.stop() }
        let response = try post(proxy.port, id: "quota-over", headers: [("x-test-over-quota", "1")])
        #expect(response.status == 429)
        #expect(response.ending == .complete)
        #expect(response.head.headers["retry-after"] == "3")
        #expect(response.head.headers["ratelimit-limit"] == "5")
        #expect(response.head.headers["content-type"] == "application/json")
        #expect(response.head.headers["content-length"] == String(response.body.count))
        #expect(response.head.headers["x-request-id"] == "quota-over")
        let error = try #require(jsonObject(response.body)?["error"] as? [String: Any], "body: \(response.bodyText)")
        #expect(error["type"] as? String == "rate_limited")
        #expect(error["message"] as? String == "quota of 5 requests used up")
        #expect(error["code"] as? Int == 429)
        #expect(probe.waitForCompletion(of: "quota-over"))
        #expect(probe.details("quota-over", "quota", "onComplete") == ["rejected"])

        // The upstream never heard of it: the next request is the first (and only) one it sees.
        let allowed = try post(proxy.port, id: "quota-ok")
        #expect(allowed.status == 200)
        #expect(proxy.upstream.journal.entries.map { $0.head.headers["x-request-id"] } == ["quota-ok"])
        #expect(proxy.upstream.journal.connectionCount == 1)
    }

    @Test func responseHeadersSetInOnRequestReachANormalResponse() throws {
        let probe = FilterProbe()
        let proxy = try ProxyHarness(chain: "- filter: quota\n  config: { limit: 5 }", registry: TestFilters.registry(probe))
        defer { proxy.stop() }
        let response = try post(proxy.port, id: "quota-headers")
        #expect(response.status == 200)
        #expect(response.ending == .complete)
        #expect(response.head.headers["content-type"] == "text/event-stream")
        #expect(response.head.headers.values("ratelimit-limit") == ["5"])
        #expect(response.head.headers.values("ratelimit-remaining") == ["4"])
        #expect(response.sseEvents.last?.data == "[DONE]")
        // Only for the client: the upstream does not get them.
        let seen = try #require(proxy.upstream.journal.entries.first)
        #expect(!seen.head.headers.contains("ratelimit-limit"))
    }

    // MARK: - 4. Suspend and resume

    @Test(arguments: ["loop", "thread"])
    func suspendedRequestResumesAndStreams(from: String) throws {
        let probe = FilterProbe()
        let proxy = try ProxyHarness(chain: "- filter: pause\n  config: { delay: 100ms, from: \(from) }",
                                     registry: TestFilters.registry(probe))
        defer { proxy.stop() }
        let id = "pause-\(from)"
        let sent = ContinuousClock.now
        let response = try post(proxy.port, id: id)
        #expect(response.status == 200)
        #expect(response.ending == .complete)
        #expect(contentEvents(response).count == 10)
        #expect(response.sseEvents.last?.data == "[DONE]")
        #expect(response.headAt - sent >= .milliseconds(90), "head after \(response.headAt - sent)")
        #expect(probe.waitForCompletion(of: id))
        #expect(probe.details(id, "pause", "onComplete") == ["completed"])

        // Hooks after the resume run on the exchange's loop thread, whoever resumed.
        let loopThread = try #require(probe.details(id, "pause", "onRequest").first)
        let resumer = try #require(probe.details(id, "pause", "resuming").first)
        #expect(probe.details(id, "pause", "selectUpstream") == [loopThread])
        if from == "thread" {
            #expect(resumer != loopThread)
        } else {
            #expect(resumer == loopThread)
        }
        #expect(proxy.upstream.journal.entries.count == 1)
    }

    /// A hook that resumes its exchange and then answers `.suspend` (its answer was ready after
    /// all) goes on at once: the resume is held until the hook returns, and is its answer. Before
    /// `ChainRunner`, such a resume came while nothing was suspended, was dropped, and the exchange
    /// waited forever.
    @Test(arguments: ["request", "response_head"])
    func aResumeMadeInsideTheHookThatSuspendsIsItsAnswer(phase: String) throws {
        let probe = FilterProbe()
        let proxy = try ProxyHarness(chain: "- filter: pause\n  config: { from: hook, in: \(phase) }",
                                     registry: TestFilters.registry(probe))
        defer { proxy.stop() }
        let id = "resume-in-hook-\(phase)"
        let response = try post(proxy.port, id: id)
        #expect(response.status == 200)
        #expect(response.ending == .complete)
        #expect(contentEvents(response).count == 10)
        #expect(probe.waitForCompletion(of: id))
        #expect(probe.details(id, "pause", "resuming").count == 1)
        #expect(probe.details(id, "pause", "onComplete") == ["completed"])
        #expect(proxy.upstream.journal.entries.count == 1)
    }

    // MARK: - 5. Retries

    @Test func retryAfterAConnectFailureGoesToTheOtherEndpoint() throws {
        let probe = FilterProbe()
        // The filter pins the first attempt to the dead endpoint so the test does not depend on
        // where round robin starts; the retry may use either and must prefer the untried one.
        let proxy = try ProxyHarness(filterFile: """
            listeners:
              - name: test
                address: 127.0.0.1:0
            upstreams:
              pair:
                endpoints: ["http://127.0.0.1:1", "{{upstream}}"]
            routes:
              - path_prefix: /
                chain: main
                upstream: pair
            chains:
              main:
                - filter: retry_on_error
                  config: { max_retries: 1, pin_first: true }

            """, registry: TestFilters.registry(probe))
        defer { proxy.stop() }
        let response = try post(proxy.port, id: "retry-connect")
        #expect(response.status == 200)
        #expect(response.ending == .complete)
        #expect(contentEvents(response).count == 10)
        #expect(response.sseEvents.last?.data == "[DONE]")
        #expect(probe.waitForCompletion(of: "retry-connect"))

        let upstreamURL = "http://127.0.0.1:\(proxy.upstream.port)"
        #expect(probe.details("retry-connect", "retry_on_error", "onUpstreamError") == ["attempt=1 connect_failed"])
        #expect(probe.details("retry-connect", "retry_on_error", "attempt") == ["2"])
        #expect(probe.details("retry-connect", "retry_on_error", "tried") == ["pair/http://127.0.0.1:1 pair/\(upstreamURL)"])
        #expect(probe.details("retry-connect", "retry_on_error", "endpoint") == [upstreamURL])
        #expect(probe.details("retry-connect", "retry_on_error", "onComplete") == ["completed"])
        #expect(proxy.upstream.journal.entries.count == 1)
    }

    @Test func retryFromOnResponseHeadReplacesA503() throws {
        let probe = FilterProbe()
        let proxy = try ProxyHarness(chain: "- filter: retry_on_503\n  config: { delay: 20ms }", registry: TestFilters.registry(probe))
        defer { proxy.stop() }
        let response = try post(proxy.port, id: "retry-503", headers: [("x-mock-status", "503")])
        #expect(response.status == 200)
        #expect(response.ending == .complete)
        #expect(contentEvents(response).count == 10)
        #expect(probe.waitForCompletion(of: "retry-503"))
        #expect(probe.details("retry-503", "retry_on_503", "onResponseHead") == [
            "attempt=1 status=503 headSent=false", "attempt=2 status=200 headSent=false",
        ])
        #expect(probe.details("retry-503", "retry_on_503", "attempt") == ["2"])
        let seen = proxy.upstream.journal.entries
        #expect(seen.count == 2)
        #expect(seen.map { $0.head.headers["x-mock-status"] } == ["503", nil])
        // The retried request is the same request: same id, same body.
        #expect(seen.map { $0.head.headers["x-request-id"] } == ["retry-503", "retry-503"])
        #expect(seen.map(\.bodyText) == [TestClient.chatRequest(), TestClient.chatRequest()])
    }

    @Test func failFromOnEventAfterTheHeadTruncatesAndCancelsTheUpstream() throws {
        let probe = FilterProbe()
        let proxy = try ProxyHarness(chain: """
            - filter: retry_on_error
              config: { max_retries: 5 }
            - filter: fail_mid_stream
              config: { after: 1 }
            """, registry: TestFilters.registry(probe))
        defer { proxy.stop() }
        let response = try post(proxy.port, id: "fail-stream", headers: [("x-mock-tokens", "200")])
        #expect(response.status == 200)
        #expect(response.ending == .truncated)
        let last = try #require(response.sseEvents.last)
        let error = try #require(jsonObject(Array(last.data.utf8))?["error"] as? [String: Any], "last event: \(last.data)")
        #expect(error["type"] as? String == "upstream_error")
        #expect(error["message"] as? String == "stopped by fail_mid_stream")
        #expect(!response.sseEvents.contains { $0.data == "[DONE]" })

        #expect(probe.waitForCompletion(of: "fail-stream", filters: 2))
        #expect(probe.details("fail-stream", "fail_mid_stream", "failing") == ["headSent=true"])
        #expect(probe.details("fail-stream", "fail_mid_stream", "onComplete") == ["truncated"])
        #expect(probe.details("fail-stream", "retry_on_error", "onComplete") == ["truncated"])
        // No retry once the head went out: no upstream error offered, one attempt, one upstream request.
        #expect(probe.details("fail-stream", "retry_on_error", "onUpstreamError").isEmpty)
        #expect(probe.details("fail-stream", "fail_mid_stream", "onUpstreamError").isEmpty)
        #expect(probe.details("fail-stream", "retry_on_error", "attempt") == ["1"])
        #expect(proxy.upstream.journal.wait(timeout: .seconds(5)) { $0.first?.ending == .cancelledByPeer },
                "upstream ending: \(String(describing: proxy.upstream.journal.entries.first?.ending))")
        #expect(proxy.upstream.journal.entries.count == 1)
        #expect(probe.lateCalls.isEmpty, "hooks after onComplete: \(probe.lateCalls)")
    }

    /// When `exchange.fail` is called from `onEvent` and more events came in the same piece of
    /// body, the rest of it must not reach the filters of an exchange that has already completed.
    /// The mock sends one event per HTTP chunk, so a canned upstream sends several in one chunk.
    @Test func noEventHookRunsAfterFailWhenEventsShareAChunk() throws {
        let events = [#"{"choices":[{"index":0,"delta":{"role":"assistant"},"finish_reason":null}]}"#]
            + MockTokens.words.prefix(3).map { #"{"choices":[{"index":0,"delta":{"content":"\#($0)"},"finish_reason":null}]}"# }
            + ["[DONE]"]
        let upstream = try CannedUpstream(sseEventsInOneChunk: events)
        defer { upstream.stop() }
        let probe = FilterProbe()
        let proxy = try ProxyHarness(filterFile: """
            listeners:
              - name: test
                address: 127.0.0.1:0
            upstreams:
              canned:
                endpoints: ["http://127.0.0.1:\(upstream.port)"]
            routes:
              - path_prefix: /
                chain: main
                upstream: canned
            chains:
              main:
                - filter: fail_mid_stream
                  config: { after: 1, counting: any }

            """, registry: TestFilters.registry(probe))
        defer { proxy.stop() }
        let response = try post(proxy.port, id: "fail-burst")
        #expect(response.status == 200)
        #expect(response.ending == .truncated)
        #expect(response.sseEvents.last?.data.contains(#""type":"upstream_error""#) == true)
        #expect(probe.waitForCompletion(of: "fail-burst"))
        #expect(probe.details("fail-burst", "fail_mid_stream", "onEvent") == ["preamble"])
        #expect(probe.lateCalls.isEmpty, "hooks after onComplete: \(probe.lateCalls)")
    }

    /// `exchange.fail` "ends the exchange now … from any phase", also when a filter calls it from
    /// inside a hook: no later filter's hook for that phase runs, nothing runs after `onComplete`,
    /// and the client gets one answer.
    @Test(arguments: ["request", "select", "response_head", "event"])
    func failCalledInsideAHookEndsTheExchangeAtOnce(hook: String) throws {
        let probe = FilterProbe()
        let proxy = try ProxyHarness(chain: """
            - filter: record
              name: a
              config: { events: true }
            - filter: record
              name: b
              config: { events: true, fail_in: \(hook) }
            - filter: record
              name: c
              config: { events: true }
            """, registry: TestFilters.registry(probe), workers: 1)
        defer { proxy.stop() }
        let id = "fail-in-\(hook)"
        let client = try TestClient(port: proxy.port)
        defer { client.close() }
        try client.send(chatHead(proxy.port, id: id), body: Array(TestClient.chatRequest().utf8))
        let response = try client.readResponse()
        #expect(probe.waitForCompletion(of: id, filters: 3))
        let calls = probe.notes(for: id).map(\.call)
        let failed = ProxyError(.forbidden, "failed by b", source: .filter("b"))
        switch hook {
        case "request":
            #expect(response.status == 403)
            #expect(response.body == failed.jsonBody(dialect: .openai))
            #expect(calls == ["a.onRequest", "b.onRequest", "c.onComplete", "b.onComplete", "a.onComplete"])
        case "select":
            #expect(response.status == 403)
            #expect(calls == ["a.onRequest", "b.onRequest", "c.onRequest", "a.selectUpstream", "b.selectUpstream",
                              "c.onComplete", "b.onComplete", "a.onComplete"])
        case "response_head":
            // An attempt was in flight: the error is offered to onUpstreamError (all pass it on).
            #expect(response.status == 403)
            #expect(calls.filter { $0.hasSuffix(".onResponseHead") } == ["c.onResponseHead", "b.onResponseHead"])
            #expect(calls.suffix(3) == ["c.onComplete", "b.onComplete", "a.onComplete"])
        default:
            #expect(response.status == 200)
            #expect(response.ending == .truncated)
            #expect(response.sseEvents.last.map { Array($0.data.utf8) } == failed.jsonBody(dialect: .openai))
            #expect(calls.filter { $0.hasSuffix(".onEvent") } == ["c.onEvent", "b.onEvent"])
            #expect(calls.suffix(3) == ["c.onComplete", "b.onComplete", "a.onComplete"])
        }
        #expect(calls.filter { $0.hasSuffix(".onComplete") }.count == 3, "\(calls)")
        #expect(probe.lateCalls.isEmpty, "hooks after onComplete: \(probe.lateCalls)")
        if hook == "request" || hook == "select" {
            #expect(proxy.upstream.journal.connectionCount == 0)
        }
        // The client got exactly one answer: the connection is closed or carries a next exchange.
        if response.ending == .complete, (try? client.send(chatHead(proxy.port, id: id + "-next"), body: Array(TestClient.chatRequest().utf8))) != nil {
            if let next = try? client.readResponse() {
                #expect(next.head.headers["x-request-id"] == id + "-next")
            }
        }
    }

    /// Events that arrive while a filter holds the head (suspended in `onResponseHead`) go through
    /// `onEvent`; `exchange.fail` there fails the attempt, which may still be retried. (This used to
    /// abort the process: the retry reset the SSE parser while it was running.)
    @Test func failFromOnEventWhileTheHeadIsHeldRetries() throws {
        let probe = FilterProbe()
        let proxy = try ProxyHarness(chain: """
            - filter: retry_on_error
              config: { max_retries: 1 }
            - filter: pause
              config: { in: response_head, delay: 200ms }
            - filter: fail_mid_stream
            """, registry: TestFilters.registry(probe))
        defer { proxy.stop() }
        let response = try post(proxy.port, id: "fail-held")
        #expect(response.status == 200)
        #expect(response.ending == .complete)
        #expect(contentEvents(response).count == 10)
        #expect(probe.waitForCompletion(of: "fail-held", filters: 3))
        #expect(probe.details("fail-held", "fail_mid_stream", "failing") == ["headSent=false"])
        #expect(probe.details("fail-held", "fail_mid_stream", "onUpstreamError") == ["upstream_error"])
        #expect(probe.details("fail-held", "retry_on_error", "attempt") == ["2"])
        #expect(probe.details("fail-held", "retry_on_error", "onComplete") == ["completed"])
        #expect(proxy.upstream.journal.wait(timeout: .seconds(5)) { $0.count == 2 && $0[0].ending == .cancelledByPeer })
        #expect(probe.lateCalls.isEmpty, "hooks after onComplete: \(probe.lateCalls)")
    }

    // MARK: - 6. onEvent and its LLMEventInfo

    @Test(arguments: [false, true])
    func onEventSeesClassifiedEventsTimingsAndTokens(includeUsage: Bool) throws {
        let probe = FilterProbe()
        let proxy = try ProxyHarness(chain: "- filter: event_probe", registry: TestFilters.registry(probe))
        defer { proxy.stop() }
        let id = "events-\(includeUsage)"
        let response = try post(proxy.port, id: id, json: TestClient.chatRequest(includeUsage: includeUsage))
        #expect(response.status == 200)
        #expect(response.ending == .complete)
        #expect(probe.waitForCompletion(of: id))

        let kinds = probe.details(id, "event_probe", "onEvent")
        #expect(kinds.count == response.sseEvents.count)
        // The role-only chunk first, then ten content chunks, the finish chunk, usage when asked, [DONE].
        var expected = ["preamble(role)"] + Array(repeating: "content", count: 10) + ["preamble"]
        if includeUsage { expected.append("usage") }
        expected.append("done")
        #expect(kinds == expected)
        #expect(probe.details(id, "event_probe", "firstContent") == ["firstToken=set"])
        #expect(probe.details(id, "event_probe", "firstTokenAfterHead") == ["true"])
        #expect(probe.details(id, "event_probe", "completionTokens") == ["10"])
        #expect(probe.details(id, "event_probe", "usage") == [includeUsage ? "10" : "none"])
    }

    // MARK: - 7. Rewriting events

    /// A filter that reads only `LLMEventInfo` (`eventAccess: .info`) gets an empty event: the
    /// engine builds no `SSEEvent` for it. Once another filter of the chain reads events, both get
    /// the real one. The classification is the same either way.
    @Test(arguments: [false, true])
    func eventFiltersThatReadOnlyTheInfoGetAnEmptyEventUnlessAnotherReads(anotherReads: Bool) throws {
        let probe = FilterProbe()
        var chain = """
            - filter: record
              name: a
              config: { events: true, access: info }
            """
        if anotherReads { chain += "\n- filter: record\n  name: b\n  config: { events: true, access: read }" }
        let proxy = try ProxyHarness(chain: chain, registry: TestFilters.registry(probe))
        defer { proxy.stop() }
        let id = "access-\(anotherReads)"
        let response = try post(proxy.port, id: id)
        #expect(response.status == 200)
        #expect(contentEvents(response).count == 10)
        #expect(probe.waitForCompletion(of: id, filters: anotherReads ? 2 : 1))
        let kinds = probe.details(id, "a", "onEvent")
        let data = probe.details(id, "a", "eventData")
        #expect(kinds.filter { $0 == "content" }.count == 10, "\(kinds)")
        #expect(data.count == kinds.count)
        if anotherReads {
            #expect(data == response.sseEvents.map(\.data))
            #expect(probe.details(id, "b", "eventData") == data)
        } else {
            #expect(data.allSatisfy { $0.isEmpty }, "\(data)")
        }
    }

    @Test func rewritingFilterChangesAndDropsEvents() throws {
        let probe = FilterProbe()
        let proxy = try ProxyHarness(chain: "- filter: shout", registry: TestFilters.registry(probe))
        defer { proxy.stop() }
        let response = try post(proxy.port, id: "shout-1")
        #expect(response.status == 200)
        #expect(response.ending == .complete)
        let data = response.sseEvents.map(\.data)
        #expect(!data.contains { $0.contains(#""role""#) }, "the preamble was not dropped")
        let content = contentEvents(response).map(\.data)
        #expect(content.count == 10)
        for (i, event) in content.enumerated() {
            let word = MockTokens.token(at: i)
            #expect(event.contains("\"content\":\"\(word.uppercased())\""), "event \(i): \(event)")
            #expect(!event.contains("\"content\":\"\(word)\""), "event \(i): \(event)")
        }
        #expect(data.last == "[DONE]")
        #expect(data.count == 12)  // ten content chunks, the finish chunk, [DONE]
        #expect(probe.waitForCompletion(of: "shout-1"))
        #expect(probe.details("shout-1", "shout", "dropped").count == 1)
        #expect(probe.details("shout-1", "shout", "onComplete") == ["completed"])
    }

    @Test func prependAddsEventsBeforeTheEventAndLaterFiltersSeeOnlyThatEvent() throws {
        let probe = FilterProbe()
        // Event hooks run in reverse file order: `trailer` runs first, then `shout` sees the stream.
        let proxy = try ProxyHarness(chain: """
            - filter: shout
            - filter: trailer
              config: { text: '{"note":"added"}' }
            """, registry: TestFilters.registry(probe))
        defer { proxy.stop() }
        let response = try post(proxy.port, id: "trailer-1")
        #expect(response.status == 200)
        #expect(response.ending == .complete)
        let events = response.sseEvents
        #expect(events.count == 13)  // ten content chunks, the finish chunk, the added event, [DONE]
        #expect(events.suffix(2).map(\.data) == [#"{"note":"added"}"#, "[DONE]"])
        #expect(events.suffix(2).map(\.event) == ["trailer", nil])
        #expect(contentEvents(response).count == 10)
    }

    // MARK: - 8. selectUpstream

    @Test func selectUpstreamCanRemoveCandidates() throws {
        let probe = FilterProbe()
        // Both endpoints are one mock: by address and by name (resolved without blocking the loop).
        let mock = MockServer(settings: ProxyHarness.fastMock)
        try mock.start()
        defer { mock.stop() }
        let byAddress = "http://127.0.0.1:\(mock.port)"
        let byName = "http://localhost:\(mock.port)"
        let proxy = try ProxyHarness(filterFile: """
            listeners:
              - name: test
                address: 127.0.0.1:0
            upstreams:
              pair:
                endpoints: ["\(byAddress)", "\(byName)"]
            routes:
              - name: none
                path_prefix: /none/
                chain: nothing_left
                upstream: pair
              - name: all
                path_prefix: /
                chain: main
                upstream: pair
            chains:
              main:
                - filter: drop_endpoints
                  config: { drop: first }
              nothing_left:
                - filter: drop_endpoints
                  config: { drop: all }

            """, registry: TestFilters.registry(probe))
        defer { proxy.stop() }

        for n in 1...4 {
            let id = "select-\(n)"
            let response = try post(proxy.port, id: id)
            #expect(response.status == 200)
            #expect(response.ending == .complete)
            #expect(probe.waitForCompletion(of: id))
            #expect(probe.details(id, "drop_endpoints", "selectUpstream") == ["\(byAddress),\(byName)"])
            #expect(probe.details(id, "drop_endpoints", "endpoint") == [byName])
        }
        let hosts = mock.journal.entries.map { $0.head.headers["host"] }
        #expect(hosts == Array(repeating: "localhost:\(mock.port)", count: 4))

        let none = try post(proxy.port, id: "select-none", path: "/none/v1/chat/completions")
        #expect(none.status == 503)
        let error = try #require(jsonObject(none.body)?["error"] as? [String: Any], "body: \(none.bodyText)")
        #expect(error["type"] as? String == "no_upstream")
        #expect(error["code"] as? Int == 503)
        #expect(probe.waitForCompletion(of: "select-none"))
        #expect(probe.details("select-none", "drop_endpoints", "onComplete") == ["failed"])
        #expect(probe.details("select-none", "drop_endpoints", "endpoint") == ["none"])
        #expect(mock.journal.entries.count == 4)
    }

    // MARK: - 9. Request body

    @Test func requestBodyFilterSeesAndReplacesTheBody() throws {
        let probe = FilterProbe()
        let proxy = try ProxyHarness(chain: "- filter: body_rewrite\n  config: { limit: 1024, max_tokens: 2 }",
                                     registry: TestFilters.registry(probe))
        defer { proxy.stop() }
        let original = TestClient.chatRequest()
        let response = try post(proxy.port, id: "body-1", json: original)
        #expect(response.status == 200)
        #expect(response.ending == .complete)
        // max_tokens 2 reached the mock: two tokens, cut for length.
        #expect(contentEvents(response).count == 2)
        #expect(response.sseEvents.contains { $0.data.contains(#""finish_reason":"length""#) })

        #expect(probe.waitForCompletion(of: "body-1"))
        #expect(probe.details("body-1", "body_rewrite", "onRequestBody") == [original])
        let rewritten = "{\"max_tokens\":2," + original.dropFirst()
        let seen = try #require(proxy.upstream.journal.entries.first)
        #expect(seen.bodyText == rewritten)
        #expect(seen.head.headers["content-length"] == String(rewritten.utf8.count))
        #expect(!seen.head.headers.contains("transfer-encoding"))
    }

    @Test func requestBodyOverTheLimitGets413() throws {
        let probe = FilterProbe()
        let proxy = try ProxyHarness(chain: "- filter: body_rewrite\n  config: { limit: 1024 }", registry: TestFilters.registry(probe))
        defer { proxy.stop() }
        let big = #"{"model":"sluice-mock","messages":[{"role":"user","content":"\#(String(repeating: "x", count: 2000))"}],"stream":true}"#
        let response = try post(proxy.port, id: "body-big", json: big)
        #expect(response.status == 413)
        let error = try #require(jsonObject(response.body)?["error"] as? [String: Any], "body: \(response.bodyText)")
        #expect(error["type"] as? String == "request_too_large")
        #expect(probe.waitForCompletion(of: "body-big"))
        #expect(probe.details("body-big", "body_rewrite", "onRequestBody").isEmpty)
        #expect(probe.details("body-big", "body_rewrite", "onComplete") == ["rejected"])
        #expect(proxy.upstream.journal.entries.isEmpty)
        #expect(proxy.upstream.journal.connectionCount == 0)
    }
}

extension FilterAPITests {
    /// A comment stays one comment line: a line break in its text cannot start an event of its own.
    @Test func aCommentCannotInjectAnEvent() throws {
        let probe = FilterProbe()
        let proxy = try ProxyHarness(chain: "- filter: comment\n  config: { text: \"queued\\ndata: {\\\"forged\\\":true}\\n\" }",
                                     registry: TestFilters.registry(probe))
        defer { proxy.stop() }
        let response = try TestClient.post(port: proxy.port, path: "/v1/chat/completions", json: TestClient.chatRequest())
        #expect(response.status == 200)
        #expect(!response.sseEvents.contains { $0.data.contains("forged") })
        #expect(response.bodyText.hasPrefix(": queued data: {\"forged\":true} \n\n"), "\(response.bodyText.prefix(80))")
    }
}
