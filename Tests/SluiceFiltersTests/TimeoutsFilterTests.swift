import Foundation
import SluiceConfig
import SluiceFilterAPI
import SluiceFilters
import SluiceHTTP
import SluiceMock
import SluiceTesting
import Testing

#if canImport(Glibc)
import Glibc
#endif

// Timer values: a timer that must fire is set to 150–300 ms against a fault of 2 s or more, and a
// timer that must not fire is set to at least 5 times the longest wait it could see, so a loaded
// CI machine neither fires early nor keeps a healthy stream waiting long enough to trip it.

/// `timeouts` over real sockets, in front of the fake upstream and its `x-mock-*` faults.
@Suite(.serialized)
struct TimeoutsFilterTests {
    private static let chatPath = "/v1/chat/completions"

    private func proxy(_ config: String, extra: String = "") throws -> ProxyHarness {
        try ProxyHarness(chain: "- filter: timeouts\n  config: { \(config) }" + extra, registry: Self.registry())
    }

    /// The built-ins plus this file's test filter.
    private static func registry() -> FilterRegistry {
        let registry = BuiltinFilters.registry()
        registry.register("retry_once_test") { RetryOnceTestFilter($0) }
        registry.register("hold_head_test") { HoldHeadTestFilter($0) }
        return registry
    }

    private func contentEvents(_ response: TestResponse, _ dialect: StreamDialect = .openai) -> Int {
        response.sseEvents.filter { LLMEventClassifier.classify($0, dialect: dialect).kind == .content }.count
    }

    private func keepalives(_ response: TestResponse) -> Int {
        response.events.filter { $0.item == .comment("keepalive") }.count
    }

    /// Waits until the upstream saw `count` requests and every one of them ended as `ending`.
    private func upstreamEnded(_ proxy: ProxyHarness, _ ending: MockJournal.Ending, count: Int = 1) -> Bool {
        proxy.upstream.journal.wait(timeout: .seconds(5)) { entries in
            entries.count == count && entries.allSatisfy { $0.ending == ending }
        }
    }

    // MARK: - Before the stream starts: 504 JSON

    @Test func aLateResponseHeadIsA504AndTheUpstreamIsCancelled() throws {
        let proxy = try proxy("response_head: 200ms")
        defer { proxy.stop() }
        let started = ContinuousClock.now
        let response = try TestClient.post(port: proxy.port, path: Self.chatPath, json: TestClient.chatRequest(),
                                           headers: [("x-mock-head-delay", "3s")])
        let elapsed = ContinuousClock.now - started
        #expect(response.status == 504)
        #expect(response.head.headers["content-type"] == "application/json")
        #expect(response.bodyText.contains(#""type":"response_head_timeout""#))
        #expect(response.bodyText.contains("(response_head)"))
        #expect(elapsed >= .milliseconds(180) && elapsed < .milliseconds(2_500))
        #expect(upstreamEnded(proxy, .cancelledByPeer))
    }

    /// Against a listener that never finishes the TLS handshake, the filter's `connect` wins over
    /// the group's much longer `pool.connect_timeout`.
    @Test func aConnectThatNeverFinishesIsAConnectTimeoutFromTheFilter() throws {
        let silent = SilentListener()
        let proxy = try ProxyHarness(filterFile: """
        listeners: [{ address: 127.0.0.1:0 }]
        upstreams:
          stuck:
            endpoints: ["https://127.0.0.1:\(silent.port)"]
            pool: { connect_timeout: 30s }
            tls: { verify: false }
        routes: [{ path_prefix: /, chain: main, upstream: stuck }]
        chains:
          main:
            - filter: timeouts
              config: { connect: 250ms }
        """)
        defer { proxy.stop() }
        let started = ContinuousClock.now
        let response = try TestClient.post(port: proxy.port, path: Self.chatPath, json: TestClient.chatRequest())
        let elapsed = ContinuousClock.now - started
        #expect(response.status == 504)
        #expect(response.bodyText.contains(#""type":"connect_timeout""#))
        #expect(response.bodyText.contains("(connect)"))
        #expect(elapsed >= .milliseconds(220) && elapsed < .seconds(5))
    }

    /// `connect` is per attempt: the first attempt times out on the silent endpoint, the retry gets
    /// a full `connect` of its own on the fake upstream and succeeds.
    @Test func eachAttemptGetsItsOwnConnectTimeout() throws {
        let silent = SilentListener()
        let proxy = try ProxyHarness(filterFile: """
        listeners: [{ address: 127.0.0.1:0 }]
        upstreams:
          pair:
            endpoints: ["https://127.0.0.1:\(silent.port)", "{{upstream}}"]
            pool: { connect_timeout: 30s }
            tls: { verify: false }
        routes: [{ path_prefix: /, chain: main, upstream: pair }]
        chains:
          main:
            - filter: timeouts
              config: { connect: 250ms }
            - filter: retry_once_test
              config: { pin_first: true }
        """, registry: Self.registry())
        defer { proxy.stop() }
        let response = try TestClient.post(port: proxy.port, path: Self.chatPath, json: TestClient.chatRequest())
        #expect(response.status == 200)
        #expect(response.ending == .complete)
        #expect(response.sseEvents.last?.data == "[DONE]")
        #expect(upstreamEnded(proxy, .finished))
    }

    /// An attempt that failed at once (connection refused) leaves its connect timer behind; the
    /// retry filter, later in the chain, answers `onUpstreamError` first and waits 5 times longer
    /// than `connect` before the next attempt. That timer must not end the exchange meanwhile.
    @Test func aFailedAttemptsTimerDoesNotFireIntoTheRetryWait() throws {
        let closedPort = try Self.closedPort()
        let proxy = try ProxyHarness(filterFile: """
        listeners: [{ address: 127.0.0.1:0 }]
        upstreams:
          pair:
            endpoints: ["http://127.0.0.1:\(closedPort)", "{{upstream}}"]
        routes: [{ path_prefix: /, chain: main, upstream: pair }]
        chains:
          main:
            - filter: timeouts
              config: { connect: 150ms, response_head: 150ms }
            - filter: retry_once_test
              config: { pin_first: true, delay: 750ms }
        """, registry: Self.registry())
        defer { proxy.stop() }
        let started = ContinuousClock.now
        let response = try TestClient.post(port: proxy.port, path: Self.chatPath, json: TestClient.chatRequest())
        #expect(response.status == 200)
        #expect(response.ending == .complete)
        #expect(ContinuousClock.now - started >= .milliseconds(700))
        #expect(upstreamEnded(proxy, .finished))
    }

    /// A `response_head_timeout` goes to `onUpstreamError` first, so a retry filter can take over.
    @Test func aResponseHeadTimeoutCanBeRetried() throws {
        let proxy = try proxy("response_head: 200ms", extra: "\n- filter: retry_once_test\n  config: { strip: x-mock-head-delay }")
        defer { proxy.stop() }
        let response = try TestClient.post(port: proxy.port, path: Self.chatPath, json: TestClient.chatRequest(),
                                           headers: [("x-mock-head-delay", "3s")])
        #expect(response.status == 200)
        #expect(response.ending == .complete)
        #expect(contentEvents(response) == 10)
        let entries = proxy.upstream.journal.entries
        #expect(entries.count == 2)
        #expect(entries.first?.ending == .cancelledByPeer)
    }

    /// A head that arrived in time but is held by a filter that sees it before `timeouts` does
    /// (later in the chain) is not a late head.
    @Test func aHeadHeldByAnotherFilterIsNotAResponseHeadTimeout() throws {
        let proxy = try proxy("response_head: 150ms", extra: "\n- filter: hold_head_test\n  config: { hold: 750ms }")
        defer { proxy.stop() }
        let response = try TestClient.post(port: proxy.port, path: Self.chatPath, json: TestClient.chatRequest())
        #expect(response.status == 200)
        #expect(response.ending == .complete)
        #expect(contentEvents(response) == 10)
    }

    // MARK: - After the stream started: an SSE error event

    @Test func noFirstTokenAfterTheHeadIsAnErrorEvent() throws {
        let proxy = try proxy("first_token: 250ms")
        defer { proxy.stop() }
        let started = ContinuousClock.now
        let response = try TestClient.post(port: proxy.port, path: Self.chatPath, json: TestClient.chatRequest(),
                                           headers: [("x-mock-ttft", "3s")])
        let elapsed = ContinuousClock.now - started
        // The head and the role-only preamble went out at once; the preamble is not a token.
        #expect(response.status == 200)
        #expect(response.ending == .truncated)
        #expect(contentEvents(response) == 0)
        #expect(response.sseEvents.count == 2)
        let last = response.sseEvents.last
        #expect(last?.event == nil)
        #expect(last?.data.hasPrefix(#"{"error":{"type":"first_token_timeout""#) == true)
        #expect(!response.sseEvents.contains { $0.data == "[DONE]" })
        #expect(elapsed >= .milliseconds(220) && elapsed < .milliseconds(2_500))
        #expect(upstreamEnded(proxy, .cancelledByPeer))
    }

    @Test func aStallBetweenTokensIsAnIdleTimeoutAfterTheTokensSoFar() throws {
        let proxy = try proxy("between_tokens: 250ms")
        defer { proxy.stop() }
        let response = try TestClient.post(port: proxy.port, path: Self.chatPath, json: TestClient.chatRequest(),
                                           headers: [("x-mock-stall-after", "3")])
        #expect(response.status == 200)
        #expect(response.ending == .truncated)
        #expect(contentEvents(response) == 3)
        #expect(response.sseEvents.last?.data.hasPrefix(#"{"error":{"type":"idle_timeout""#) == true)
        #expect(!response.sseEvents.contains { $0.data == "[DONE]" })
        // The error came a between_tokens silence after the third token, not before.
        let items = response.events
        if let lastToken = items.lastIndex(where: {
            $0.event.map { LLMEventClassifier.classify($0, dialect: .openai).kind == .content } ?? false
        }), let error = items.last {
            #expect(error.at - items[lastToken].at >= .milliseconds(200))
        }
        #expect(upstreamEnded(proxy, .cancelledByPeer))
    }

    @Test func anAnthropicClientGetsAnAnthropicErrorEvent() throws {
        let proxy = try proxy("between_tokens: 250ms")
        defer { proxy.stop() }
        let body = #"{"model":"claude-mock","max_tokens":50,"stream":true,"messages":[{"role":"user","content":"hello there"}]}"#
        let response = try TestClient.post(port: proxy.port, path: "/v1/messages", json: body,
                                           headers: [("x-mock-stall-after", "2")])
        #expect(response.status == 200)
        #expect(response.ending == .truncated)
        #expect(contentEvents(response, .anthropic) == 2)
        let last = response.sseEvents.last
        #expect(last?.event == "error")
        #expect(last?.data.hasPrefix(#"{"type":"error","error":{"type":"timeout_error""#) == true)
        #expect(last?.data.contains(#""sluice_kind":"idle_timeout""#) == true)
        #expect(!response.sseEvents.contains { $0.event == "message_stop" })
        #expect(upstreamEnded(proxy, .cancelledByPeer))
    }

    // MARK: - Heartbeat

    /// The upstream sends every event in 5-byte pieces, so the client often holds half an event
    /// when the heartbeat is due. A comment there would break that event: none may land inside one.
    @Test func heartbeatsNeverSplitAnEventTheClientHasPartOf() throws {
        let proxy = try proxy("heartbeat: 15ms")
        defer { proxy.stop() }
        let response = try TestClient.post(port: proxy.port, path: Self.chatPath, json: TestClient.chatRequest(),
                                           headers: [("x-mock-trickle", "5ms"), ("x-mock-tokens", "3")])
        #expect(response.status == 200)
        #expect(response.ending == .complete)
        #expect(contentEvents(response) == 3)
        #expect(response.sseEvents.last?.data == "[DONE]")
        for event in response.sseEvents where event.data != "[DONE]" {
            #expect(LLMEventClassifier.classify(event, dialect: .openai).kind != .other, "broken event: \(event.data)")
        }
    }

    /// Before the upstream's head nothing is sent, so a non-streaming answer stays plain JSON.
    @Test func noHeartbeatBeforeTheHeadSoNonStreamingAnswersStayJSON() throws {
        let proxy = try proxy("heartbeat: 50ms")
        defer { proxy.stop() }
        let response = try TestClient.post(port: proxy.port, path: Self.chatPath, json: TestClient.chatRequest(stream: false),
                                           headers: [("x-mock-head-delay", "400ms")])
        #expect(response.status == 200)
        #expect(response.head.headers["content-type"] == "application/json")
        #expect(response.ending == .complete)
        #expect(response.bodyText.hasPrefix("{"))
        #expect(!response.bodyText.contains("keepalive"))
    }

    // MARK: - No spurious fire

    @Test func aHealthyStreamWithGenerousTimeoutsIsUntouched() throws {
        let proxy = try proxy(
            "connect: 2s, response_head: 2s, first_token: 2s, between_tokens: 2s, total: 10s, heartbeat: 2s")
        defer { proxy.stop() }
        let client = try TestClient(port: proxy.port)
        defer { client.close() }
        // Three on one connection: the second and third reuse the pooled upstream connection.
        for round in 1...3 {
            var headers = HTTPHeaders([("host", "127.0.0.1:\(proxy.port)"), ("content-type", "application/json")])
            headers.add("x-request-id", "healthy-\(round)")
            try client.send(HTTPRequestHead(method: "POST", target: Self.chatPath, headers: headers),
                            body: Array(TestClient.chatRequest(includeUsage: true).utf8))
            let response = try client.readResponse()
            #expect(response.status == 200)
            #expect(response.ending == .complete)
            #expect(contentEvents(response) == 10)
            #expect(response.sseEvents.last?.data == "[DONE]")
            #expect(keepalives(response) == 0)
            #expect(!response.sseEvents.contains { $0.data.contains(#""error""#) })
        }
        #expect(upstreamEnded(proxy, .finished, count: 3))
    }

    // MARK: - Helpers

    /// A port nothing listens on: connecting to it is refused at once.
    private static func closedPort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) } }
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        return Int(UInt16(bigEndian: addr.sin_port))
    }
}

/// Retries the first failed attempt once, after `delay` (default: at once). With `pin_first`,
/// the first attempt may only use the group's first endpoint; with `strip: HEADER`, attempts after
/// the first go without that request header (to lift a mock fault).
private final class RetryOnceTestFilter: Filter {
    let pinFirst: Bool
    let delay: Duration?
    let strip: String?

    init(_ setup: FilterSetup) {
        pinFirst = setup.config.bool("pin_first", default: false)
        delay = setup.config.duration("delay")
        strip = setup.config.string("strip")
    }

    func selectUpstream(_ exchange: Exchange, _ candidates: inout [EndpointCandidate]) -> Decision {
        if pinFirst && exchange.attempt == 1 { candidates.removeAll { $0.index != 0 } }
        if let strip, exchange.attempt > 1 { exchange.request.headers.remove(strip) }
        return .next
    }

    func onUpstreamError(_ exchange: Exchange, _ error: ProxyError) -> Decision {
        exchange.attempt == 1 ? .retry(after: delay) : .next
    }
}

/// Holds the response head in `onResponseHead` for `hold`, then lets it go.
private final class HoldHeadTestFilter: Filter {
    let hold: Duration

    init(_ setup: FilterSetup) {
        hold = setup.config.duration("hold", default: .milliseconds(500))
    }

    func onResponseHead(_ exchange: Exchange) -> Decision {
        exchange.schedule(after: hold) { exchange.resume(.next) }
        return .suspend
    }
}

/// The `config:` of `timeouts`, read on its own.
struct TimeoutSettingsTests {
    private func decode(_ yaml: String) throws -> (TimeoutSettings, [String]) {
        let node = try YAMLLoader.load(text: yaml, path: "t.yaml")
        let diagnostics = ConfigDiagnostics()
        let map = ConfigMap(node, diagnostics: diagnostics, context: "config of filter 'timeouts'")
        let settings = TimeoutSettings.decode(map)
        map.finish()
        return (settings, diagnostics.errors.map(\.description))
    }

    @Test func readsEveryKey() throws {
        let (settings, errors) = try decode("""
        connect: 2s
        response_head: 30s
        first_token: 45s
        between_tokens: 1m
        total: 10m
        heartbeat: 15s
        """)
        #expect(errors.isEmpty)
        #expect(settings == TimeoutSettings(
            connect: .seconds(2), responseHead: .seconds(30), firstToken: .seconds(45),
            betweenTokens: .seconds(60), total: .seconds(600), heartbeat: .seconds(15)))
        #expect(settings.watchesEvents)
    }

    @Test func everyKeyIsOptional() throws {
        let (settings, errors) = try decode("total: 250ms")
        #expect(errors.isEmpty)
        #expect(settings == TimeoutSettings(total: .milliseconds(250)))
        // Neither connect nor total needs the response's events.
        #expect(!settings.watchesEvents)
        #expect(try decode("heartbeat: 5s").0.watchesEvents)
    }

    @Test func atLeastOneTimerMustBeSet() throws {
        let (_, errors) = try decode("{}")
        #expect(errors == [
            "t.yaml:1:1: timeouts needs at least one of connect, response_head, first_token, between_tokens, total, heartbeat",
        ])
        let (_, nullOnly) = try decode("connect:\n")
        #expect(nullOnly.count == 1)
        #expect(nullOnly.first?.contains("needs at least one of") == true)
    }

    /// A malformed timer reports its own error, not also "needs at least one".
    @Test func badValuesAreReportedAtTheirPosition() throws {
        let (_, bare) = try decode("first_token: 30")
        #expect(bare == ["t.yaml:1:14: 'first_token': a duration needs a unit, e.g. 30s (got 30)"])
        let (_, word) = try decode("total: forever")
        #expect(word.count == 1)
        #expect(word.first?.hasPrefix("t.yaml:1:8: 'total' must be a duration") == true)
        let (_, zero) = try decode("connect: 0s")
        #expect(zero == ["t.yaml:1:10: 'connect' must be between 1ms and 24h, got 0s"])
        let (_, flood) = try decode("heartbeat: 1ms")
        #expect(flood == ["t.yaml:1:12: 'heartbeat' must be between 10ms and 1h, got 1ms"])
    }

    @Test func typosGetASuggestion() throws {
        let (_, errors) = try decode("connect: 1s\nfirst_tokn: 5s")
        #expect(errors == ["t.yaml:2:1: unknown key 'first_tokn' (did you mean 'first_token'?)"])
    }

    /// The request head is timed by the engine before any chain runs; the key says where to look.
    @Test func clientHeaderPointsToTheLimitsSection() throws {
        let (_, errors) = try decode("total: 1m\nclient_header: 10s")
        #expect(errors.count == 1)
        #expect(errors.first?.hasPrefix("t.yaml:2:1: 'client_header' is not a timeouts setting") == true)
        #expect(errors.first?.contains("limits.client_header_timeout") == true)
    }

    /// Through a whole filter file, as `sluice check` reports it.
    @Test func anEmptyConfigFailsTheFilterFile() throws {
        do {
            let proxy = try ProxyHarness(chain: "- filter: timeouts\n  config: {}")
            proxy.stop()
            Issue.record("a timeouts filter without timers was accepted")
        } catch let errors as FilterFileErrors {
            #expect(errors.errors.count == 1)
            #expect(errors.description.contains("timeouts needs at least one of"))
        }
    }
}
