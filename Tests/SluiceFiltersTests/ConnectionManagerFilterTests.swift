import Foundation
import SluiceConfig
import SluiceEngine
import SluiceFilterAPI
import SluiceFilters
import SluiceHTTP
import SluiceTesting
import Synchronization
import Testing

/// The live `connection_manager` instances a registry built, so tests can read the slot counts of the
/// one the engine runs (the last one made: `check` builds a throwaway instance first).
private final class LiveFilters: Sendable {
    private let made = Mutex<[ConnectionManagerFilter]>([])

    var last: ConnectionManagerFilter? { made.withLock { $0.last } }

    /// The built-in registry, with `connection_manager` built through `self`, and `always_retry`.
    func registry() -> FilterRegistry {
        let registry = BuiltinFilters.registry()
        registry.register("always_retry") { _ in AlwaysRetry() }
        registry.register("connection_manager") { [self] setup in
            let filter = ConnectionManagerFilter(setup)
            made.withLock { $0.append(filter) }
            return filter
        }
        return registry
    }
}

/// Retries every upstream error at once, whatever the error says about being retryable.
private final class AlwaysRetry: Filter {
    func onUpstreamError(_ exchange: Exchange, _ error: ProxyError) -> Decision { .retry(after: nil) }
}

/// Polls `condition` every 2 ms until it holds or `timeout` passes; returns whether it held.
private func eventually(_ timeout: Duration = .seconds(5), _ condition: () -> Bool) -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if condition() { return true }
        Thread.sleep(forTimeInterval: 0.002)
    }
    return condition()
}

/// The body as a JSON object (nil when it is not one).
private func jsonObject(_ bytes: [UInt8]) -> [String: Any]? {
    (try? JSONSerialization.jsonObject(with: Data(bytes))) as? [String: Any]
}

private func chatHead(_ port: Int, id: String, path: String = "/v1/chat/completions",
                      headers: [(String, String)] = []) -> HTTPRequestHead {
    var fields = HTTPHeaders([("host", "127.0.0.1:\(port)"), ("content-type", "application/json"), ("x-request-id", id)])
    for (name, value) in headers { fields.add(name, value) }
    return HTTPRequestHead(method: "POST", target: path, headers: fields)
}

private func post(_ port: Int, id: String, path: String = "/v1/chat/completions", headers: [(String, String)] = [],
                  json: String = TestClient.chatRequest()) throws -> TestResponse {
    try TestClient.post(port: port, path: path, json: json, headers: [("x-request-id", id)] + headers)
}

/// Starts a streamed chat request and reads up to its first content event, so the stream is known to
/// be open and past its head. With `x-mock-stall-after` it then stays open until closed.
private func openStream(_ port: Int, id: String, headers: [(String, String)]) throws -> (TestClient, HTTPResponseHead) {
    let client = try TestClient(port: port)
    try client.send(chatHead(port, id: id, headers: headers), body: Array(TestClient.chatRequest().utf8))
    let head = try client.readHead()
    while let item = try client.readItem(), item.event?.data.contains(#""content":" "#) != true {}
    return (client, head)
}

/// `connection_manager` over real sockets, in front of the fake upstream.
@Suite(.serialized)
struct ConnectionManagerFilterTests {
    /// Keeps a stream open until the test closes it: the mock stops after one content event.
    private let stall = ("x-mock-stall-after", "1")

    // MARK: - Refusals

    @Test func globalLimitAnswers503WithRetryAfterAndAJSONError() throws {
        let live = LiveFilters()
        let proxy = try ProxyHarness(chain: """
            - filter: connection_manager
              config: { max_streams: 1, retry_after: 2 }
            """, registry: live.registry())
        defer { proxy.stop() }
        let filter = try #require(live.last)

        let (held, head) = try openStream(proxy.port, id: "global-held", headers: [stall])
        defer { held.close() }
        #expect(head.status == 200)
        #expect(filter.activeStreams == 1)

        let refused = try post(proxy.port, id: "global-refused")
        #expect(refused.status == 503)
        #expect(refused.head.headers["retry-after"] == "2")
        #expect(refused.head.headers["content-type"] == "application/json")
        let error = try #require(jsonObject(refused.body)?["error"] as? [String: Any], "body: \(refused.bodyText)")
        #expect(error["type"] as? String == "overloaded")
        #expect(error["code"] as? Int == 503)
        #expect((error["message"] as? String)?.contains("max_streams: 1") == true)
        // Refused before any upstream was asked, and it took no slot.
        #expect(proxy.upstream.journal.entries.map { $0.head.headers["x-request-id"] } == ["global-held"])
        #expect(filter.activeStreams == 1)

        held.close()
        #expect(eventually { filter.activeStreams == 0 })
        let next = try post(proxy.port, id: "global-next")
        #expect(next.status == 200)
        #expect(next.ending == .complete)
        #expect(eventually { filter.activeStreams == 0 && filter.activeClients == 0 })
    }

    /// Two values of the key header are two clients: one at its limit gets 429, the other passes.
    @Test func perClientLimitAnswers429AndCountsClientsApart() throws {
        let live = LiveFilters()
        let proxy = try ProxyHarness(chain: """
            - filter: connection_manager
              config: { max_streams_per_client: 1, key: { header: x-api-key } }
            """, registry: live.registry())
        defer { proxy.stop() }
        let filter = try #require(live.last)

        let (held, head) = try openStream(proxy.port, id: "alpha-held", headers: [stall, ("x-api-key", "sk-alpha")])
        defer { held.close() }
        #expect(head.status == 200)

        let refused = try post(proxy.port, id: "alpha-refused", headers: [("x-api-key", "sk-alpha")])
        #expect(refused.status == 429)
        #expect(refused.head.headers["retry-after"] == "1")
        #expect(refused.head.headers["content-type"] == "application/json")
        let error = try #require(jsonObject(refused.body)?["error"] as? [String: Any], "body: \(refused.bodyText)")
        #expect(error["type"] as? String == "rate_limited")
        #expect(error["code"] as? Int == 429)
        #expect((error["message"] as? String)?.contains("max_streams_per_client: 1") == true)
        // The key's value is a secret: it is not echoed.
        #expect(!refused.bodyText.contains("sk-alpha"))

        let other = try post(proxy.port, id: "bravo", headers: [("x-api-key", "sk-bravo")])
        #expect(other.status == 200)
        #expect(other.ending == .complete)
        // Requests without the header are one more client of their own.
        let anonymous = try post(proxy.port, id: "anonymous")
        #expect(anonymous.status == 200)
        #expect(eventually { filter.activeStreams == 1 && filter.activeClients == 1 })

        held.close()
        #expect(eventually { filter.activeStreams == 0 && filter.activeClients == 0 })
        let again = try post(proxy.port, id: "alpha-again", headers: [("x-api-key", "sk-alpha")])
        #expect(again.status == 200)
        #expect(proxy.upstream.journal.entries.map { $0.head.headers["x-request-id"] }
            == ["alpha-held", "bravo", "anonymous", "alpha-again"])
    }

    // MARK: - Release

    enum Ending: String, CaseIterable, Sendable {
        case completed, upstream500, upstreamReset, clientGone, maxAge, connectFailed
    }

    /// With `max_streams: 1`, after each kind of ending the count is exactly zero: the next stream is
    /// admitted and counted as exactly one (a third is refused), and then it is zero again.
    @Test(arguments: Ending.allCases)
    func slotIsReleasedExactlyOnceWhateverTheEnding(_ ending: Ending) throws {
        let live = LiveFilters()
        let maxAge = ending == .maxAge ? ", max_age: 300ms" : ""
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
                - filter: connection_manager
                  config: { max_streams: 1\(maxAge) }

            """, registry: live.registry())
        defer { proxy.stop() }
        let filter = try #require(live.last)
        let id = "ending-\(ending.rawValue)"

        switch ending {
        case .completed:
            let response = try post(proxy.port, id: id)
            #expect(response.status == 200)
            #expect(response.ending == .complete)
        case .upstream500:
            let response = try post(proxy.port, id: id, headers: [("x-mock-status", "500")])
            #expect(response.status == 500)
        case .upstreamReset:
            let response = try post(proxy.port, id: id, headers: [("x-mock-reset-after", "3")])
            #expect(response.status == 200)
            #expect(response.ending == .truncated)
        case .clientGone:
            let (client, head) = try openStream(proxy.port, id: id, headers: [stall])
            #expect(head.status == 200)
            #expect(filter.activeStreams == 1)
            client.close()
            #expect(proxy.upstream.journal.wait(timeout: .seconds(5)) { $0.first?.ending == .cancelledByPeer })
        case .maxAge:
            let (client, head) = try openStream(proxy.port, id: id, headers: [stall])
            defer { client.close() }
            #expect(head.status == 200)
            #expect(filter.activeStreams == 1)
            let rest = try client.readResponse()
            #expect(rest.ending == .truncated)
            #expect(rest.sseEvents.last?.data.contains(#""type":"max_age""#) == true)
        case .connectFailed:
            let response = try post(proxy.port, id: id, path: "/dead/v1/chat/completions")
            #expect(response.status == 502)
            let error = jsonObject(response.body)?["error"] as? [String: Any]
            #expect(error?["type"] as? String == "connect_failed")
        }
        #expect(eventually { filter.activeStreams == 0 && filter.activeClients == 0 },
                "\(ending): \(filter.activeStreams) streams still counted")

        let (next, nextHead) = try openStream(proxy.port, id: id + "-next", headers: [stall])
        defer { next.close() }
        #expect(nextHead.status == 200, "\(ending): the next stream was not admitted")
        #expect(filter.activeStreams == 1)
        #expect(try post(proxy.port, id: id + "-third").status == 503)
        next.close()
        #expect(eventually { filter.activeStreams == 0 && filter.activeClients == 0 })
    }

    // MARK: - max_age

    /// An SSE stream past `max_age` ends with an error event in its dialect that names `max_age`,
    /// no `[DONE]` (or `message_stop`), and a closed connection; the upstream request is cancelled.
    @Test(arguments: ["openai", "anthropic"])
    func maxAgeEndsAnSSEStreamWithAnErrorEvent(dialect: String) throws {
        let live = LiveFilters()
        let proxy = try ProxyHarness(chain: """
            - filter: connection_manager
              config: { max_streams: 4, max_age: 300ms }
            """, registry: live.registry())
        defer { proxy.stop() }
        let filter = try #require(live.last)
        let anthropic = dialect == "anthropic"
        let path = anthropic ? "/v1/messages" : "/v1/chat/completions"
        let json = anthropic
            ? #"{"model":"claude-mock","max_tokens":50,"stream":true,"messages":[{"role":"user","content":"hi"}]}"#
            : TestClient.chatRequest()

        let started = ContinuousClock.now
        let response = try post(proxy.port, id: "age-\(dialect)", path: path, headers: [("x-mock-stall-after", "2")], json: json)
        let took = ContinuousClock.now - started
        #expect(response.status == 200)
        #expect(response.ending == .truncated)
        #expect(took >= .milliseconds(250) && took < .seconds(5), "ended after \(took)")
        let last = try #require(response.sseEvents.last)
        #expect(last.data.contains("max_age"), "last event: \(last.data)")
        let document = try #require(jsonObject(Array(last.data.utf8)), "last event: \(last.data)")
        if anthropic {
            #expect(last.event == "error")
            let error = try #require(document["error"] as? [String: Any])
            #expect(error["sluice_kind"] as? String == "max_age")
            #expect(!response.sseEvents.contains { $0.event == "message_stop" })
        } else {
            let error = try #require(document["error"] as? [String: Any])
            #expect(error["type"] as? String == "max_age")
            #expect((error["message"] as? String)?.contains("max_age (300ms)") == true)
            #expect(!response.sseEvents.contains { $0.data == "[DONE]" })
        }
        #expect(proxy.upstream.journal.wait(timeout: .seconds(5)) { $0.first?.ending == .cancelledByPeer })
        #expect(eventually { filter.activeStreams == 0 })
    }

    /// A response whose head is still on its way when `max_age` passes is answered 503 `max_age`.
    @Test func maxAgeBeforeTheHeadAnswers503() throws {
        let live = LiveFilters()
        let proxy = try ProxyHarness(chain: """
            - filter: connection_manager
              config: { max_streams: 1, max_age: 300ms }
            """, registry: live.registry())
        defer { proxy.stop() }
        let filter = try #require(live.last)

        let started = ContinuousClock.now
        let response = try post(proxy.port, id: "age-head", headers: [("x-mock-head-delay", "3s")],
                                json: TestClient.chatRequest(stream: false))
        let took = ContinuousClock.now - started
        #expect(response.status == 503)
        #expect(response.ending == .complete)
        #expect(took >= .milliseconds(250) && took < .seconds(2), "answered after \(took)")
        let error = try #require(jsonObject(response.body)?["error"] as? [String: Any], "body: \(response.bodyText)")
        #expect(error["type"] as? String == "max_age")
        #expect(error["code"] as? Int == 503)
        #expect(proxy.upstream.journal.wait(timeout: .seconds(5)) { $0.first?.ending == .cancelledByPeer })
        #expect(eventually { filter.activeStreams == 0 })
        #expect(try post(proxy.port, id: "age-head-next").status == 200)
    }

    /// The `max_age` error is offered to `onUpstreamError` like any failure of an attempt in flight; a
    /// filter that retries it anyway (before or after this one in the chain) gets no new attempt.
    @Test(arguments: [true, false])
    func maxAgeIsNotUndoneByARetry(retryFirst: Bool) throws {
        let live = LiveFilters()
        let manager = "- filter: connection_manager\n  config: { max_streams: 1, max_age: 300ms }"
        let retry = "- filter: always_retry"
        let proxy = try ProxyHarness(chain: retryFirst ? retry + "\n" + manager : manager + "\n" + retry,
                                     registry: live.registry())
        defer { proxy.stop() }
        let filter = try #require(live.last)

        let started = ContinuousClock.now
        let response = try post(proxy.port, id: "age-retry", headers: [("x-mock-head-delay", "3s")],
                                json: TestClient.chatRequest(stream: false))
        let took = ContinuousClock.now - started
        #expect(response.status == 503)
        #expect(took < .seconds(2), "answered after \(took)")
        let error = try #require(jsonObject(response.body)?["error"] as? [String: Any], "body: \(response.bodyText)")
        #expect(error["type"] as? String == "max_age")
        #expect(proxy.upstream.journal.entries.count == 1)
        #expect(eventually { filter.activeStreams == 0 })
    }

    /// A non-SSE response already under way when `max_age` passes is cut: the connection closes before
    /// the body's end, so the client never takes it for whole.
    @Test func maxAgeCutsANonSSEResponseAfterItsHead() throws {
        let live = LiveFilters()
        let proxy = try ProxyHarness(chain: """
            - filter: connection_manager
              config: { max_streams: 1, max_age: 300ms }
            """, registry: live.registry())
        defer { proxy.stop() }
        let filter = try #require(live.last)

        // The mock sends the head and half the JSON body, then nothing.
        let response = try post(proxy.port, id: "age-json", headers: [("x-mock-stall-after", "1")],
                                json: TestClient.chatRequest(stream: false))
        #expect(response.status == 200)
        #expect(response.head.headers["content-type"]?.hasPrefix("application/json") == true)
        #expect(response.ending == .truncated)
        #expect(jsonObject(response.body) == nil, "a cut body must not parse: \(response.bodyText)")
        #expect(eventually { filter.activeStreams == 0 })
        #expect(try post(proxy.port, id: "age-json-next").status == 200)
    }
}

/// `connection_manager` without sockets: its config, and its slot table across a reload, driven through
/// the hooks the way the engine drives them.
struct ConnectionManagerFilterUnitTests {
    private func make(_ yaml: String, previous: (any Filter)? = nil, name: String = "cm")
        throws -> (filter: ConnectionManagerFilter, errors: [String]) {
        let node = try YAMLLoader.load(text: yaml, path: "cm.yaml")
        let diagnostics = ConfigDiagnostics()
        let config = ConfigMap(node, diagnostics: diagnostics, context: "filter '\(name)'")
        let filter = ConnectionManagerFilter(FilterSetup(
            type: "connection_manager", name: name, chain: "main", config: config, previous: previous,
            clock: SystemClock(), workers: 2))
        config.finish()
        return (filter, diagnostics.sortedErrors.map(\.description))
    }

    private func exchange(ip: String = "10.0.0.1", clock: any SluiceClock = SystemClock()) -> Exchange {
        Exchange(id: "x", request: HTTPRequestHead(method: "POST", target: "/v1/chat/completions", headers: HTTPHeaders([])),
                 client: ClientInfo(address: ip, port: 40000, secure: false, listener: "test"),
                 route: RouteInfo(name: "all", chain: "main", upstreamGroup: "fake"),
                 dialect: .openai, clock: clock, worker: 0)
    }

    /// The error of a `.reject`, nil for any other decision.
    private func rejection(_ decision: Decision) -> ProxyError? {
        if case .reject(let error) = decision { return error }
        return nil
    }

    private func admitted(_ decision: Decision) -> Bool {
        if case .next = decision { return true }
        return false
    }

    // MARK: - Config

    @Test func readsEveryKey() throws {
        let (filter, errors) = try make("""
            { max_streams: 10, max_streams_per_client: 2, key: { header: X-API-Key }, max_age: 5m, retry_after: 7 }
            """)
        #expect(errors.isEmpty)
        #expect(filter.limits == ConnectionSlots.Limits(global: 10, perClient: 2))
        #expect(filter.clientKey == .header("x-api-key"))
        #expect(filter.maxAge == .seconds(300))
        #expect(filter.retryAfterSeconds == 7)
    }

    @Test func defaultsToTheClientIPAndOneSecondAndNoAgeLimit() throws {
        let (filter, errors) = try make("max_streams_per_client: 3")
        #expect(errors.isEmpty)
        #expect(filter.limits == ConnectionSlots.Limits(global: nil, perClient: 3))
        #expect(filter.clientKey == .clientIP)
        #expect(filter.maxAge == nil)
        #expect(filter.retryAfterSeconds == 1)
    }

    @Test func needsAtLeastOneLimit() throws {
        let (_, errors) = try make("key: ip\nmax_age: 10s")
        #expect(errors == ["cm.yaml:1:1: connection_manager needs max_streams, max_streams_per_client or both"])
    }

    @Test func reportsBadValuesAtTheirPositions() throws {
        #expect(try make("max_streams: 0").errors == ["cm.yaml:1:14: 'max_streams' must be between 1 and 10000000, got 0"])
        #expect(try make("max_streams: 1\nmax_age: 30").errors == ["cm.yaml:2:10: 'max_age': a duration needs a unit, e.g. 30s (got 30)"])
        #expect(try make("max_streams: 1\nretry_after: -1").errors.first?.hasPrefix("cm.yaml:2:14: 'retry_after' must be between 0") == true)
        #expect(try make("max_streams: 1\nkey: everyone").errors.first?.hasPrefix("cm.yaml:2:6: 'key' must be ip, route, global") == true)
        #expect(try make("max_streams: 1\nmax_stream_per_client: 2").errors
            == ["cm.yaml:2:1: unknown key 'max_stream_per_client' (did you mean 'max_streams_per_client'?)"])
    }

    /// `sluice check` reports the filter's config errors with the file's positions.
    @Test func checkReportsConfigErrorsInTheFilterFile() {
        let text = """
            listeners:
              - address: 127.0.0.1:8080
            upstreams:
              fake:
                endpoints: ["http://127.0.0.1:9"]
            routes:
              - path_prefix: /
                chain: main
                upstream: fake
            chains:
              main:
                - filter: connection_manager
                  config: { key: ip }

            """
        switch FilterFileLoading.parse(text: text, path: "f.yaml", registry: BuiltinFilters.registry()) {
        case .success:
            Issue.record("a connection_manager without limits was accepted")
        case .failure(let errors):
            #expect(errors.errors.map(\.description).contains {
                $0.hasPrefix("f.yaml:13:") && $0.hasSuffix("connection_manager needs max_streams, max_streams_per_client or both")
            }, "\(errors.errors)")
        }
    }

    // MARK: - Hooks

    @Test func completionWithoutAdmissionReleasesNothing() throws {
        let filter = try make("max_streams: 1").filter
        let held = exchange()
        #expect(admitted(filter.onRequest(held)))
        // Refused by this filter: takes no slot, gives none back.
        let refused = exchange()
        #expect(rejection(filter.onRequest(refused))?.status == 503)
        filter.onComplete(refused, Outcome(kind: .rejected, status: 503))
        // An earlier filter refused it, so this filter's onRequest never ran.
        filter.onComplete(exchange(), Outcome(kind: .rejected, status: 403))
        #expect(filter.activeStreams == 1)
        filter.onComplete(held, Outcome(kind: .completed, status: 200))
        filter.onComplete(held, Outcome(kind: .completed, status: 200))
        #expect(filter.activeStreams == 0)
        #expect(admitted(filter.onRequest(exchange())))
        #expect(filter.activeStreams == 1)
    }

    @Test func aRequestAlreadyOlderThanMaxAgeIsRefusedWithoutASlot() throws {
        let filter = try make("{ max_streams: 1, max_age: 1s }").filter
        let clock = ManualClock()
        let late = exchange(clock: clock)
        clock.advance(by: .seconds(2))
        let error = try #require(rejection(filter.onRequest(late)))
        #expect(error.kind == .maxAge)
        #expect(error.status == 503)
        #expect(!error.retryable)
        #expect(filter.activeStreams == 0)
    }

    /// Across a reload the new instance adopts the old one's table: streams finishing on the old chain
    /// version give their slots back where the new version counts, and each version applies its own limits.
    @Test func aReloadSharesOneSlotTableBetweenOldAndNewInstances() throws {
        let old = try make("max_streams: 2").filter
        let a = exchange(ip: "10.0.0.1"), b = exchange(ip: "10.0.0.2")
        #expect(admitted(old.onRequest(a)))
        #expect(admitted(old.onRequest(b)))

        let new = try make("{ max_streams: 3, max_streams_per_client: 1 }", previous: old).filter
        #expect(new.activeStreams == 2)
        #expect(rejection(new.onRequest(exchange(ip: "10.0.0.1")))?.status == 429)
        let c = exchange(ip: "10.0.0.3")
        #expect(admitted(new.onRequest(c)))
        #expect(rejection(new.onRequest(exchange(ip: "10.0.0.4")))?.status == 503)
        #expect(old.activeStreams == 3)

        // The old streams end on the old version.
        old.onComplete(a, Outcome(kind: .completed, status: 200))
        #expect(new.activeStreams == 2)
        let d = exchange(ip: "10.0.0.1")
        #expect(admitted(new.onRequest(d)))
        old.onComplete(b, Outcome(kind: .clientGone))

        // A second reload adopts the same table again.
        let newer = try make("max_streams: 1", previous: new).filter
        #expect(newer.activeStreams == 2)
        #expect(rejection(newer.onRequest(exchange(ip: "10.0.0.9")))?.status == 503)
        new.onComplete(c, Outcome(kind: .truncated, status: 200))
        new.onComplete(d, Outcome(kind: .failed, status: 502))
        #expect(newer.activeStreams == 0)
        #expect(newer.activeClients == 0)
        #expect(admitted(newer.onRequest(exchange(ip: "10.0.0.9"))))
    }

    @Test func aPreviousInstanceOfAnotherTypeIsNotAdopted() throws {
        final class Other: Filter {}
        let fresh = try make("max_streams: 1", previous: Other()).filter
        #expect(fresh.activeStreams == 0)
        let first = try make("max_streams: 1").filter
        #expect(admitted(first.onRequest(exchange())))
        let unrelated = try make("max_streams: 1").filter
        #expect(unrelated.activeStreams == 0)
    }
}
