import SluiceFilterAPI
import SluiceFilters
import SluiceHTTP
import SluiceMock
import SluiceTesting
import Synchronization
import Testing

/// The engine's two ways for an exchange to go on with one side missing: an upstream kept running
/// after its client left (`Filter.onClientLeft`), and a filter's own stream with no upstream
/// (`Exchange.beginOwnStream`). Real sockets, the fake upstream, and small filters that record what
/// they saw.
@Suite(.serialized)
struct ClientlessExchangeTests {
    /// Keeps (or not) the upstream when the client leaves; records events after the leave and the
    /// outcome; fails the exchange after `failAfter` events without a client, when set.
    final class Keeper: Filter {
        let keep: Bool
        let failAfter: Int?
        let left = Mutex(false)
        let eventsWithoutClient = Mutex(0)
        let outcomes = Mutex<[Outcome]>([])

        init(keep: Bool, failAfter: Int? = nil) {
            self.keep = keep
            self.failAfter = failAfter
        }

        var eventAccess: EventAccess { .info }
        var keepsUpstreamWhenClientLeaves: Bool { true }

        func onClientLeft(_ exchange: Exchange) -> ClientLeftDecision {
            left.withLock { $0 = true }
            return keep ? .keepUpstream : .cancel
        }

        func onEvent(_ exchange: Exchange, _ event: inout SSEEvent, _ info: LLMEventInfo) -> EventDecision {
            guard left.withLock({ $0 }) else { return .pass }
            let count = eventsWithoutClient.withLock { $0 += 1; return $0 }
            if let failAfter, count >= failAfter { return .fail(ProxyError(.clientClosed, "enough", source: .filter("keeper"))) }
            return .pass
        }

        func onComplete(_ exchange: Exchange, _ outcome: Outcome) {
            outcomes.withLock { $0.append(outcome) }
        }
    }

    private static func leaveAfterTwoEvents(_ keeper: Keeper) throws -> ProxyHarness {
        let registry = BuiltinFilters.registry()
        registry.register("keeper") { _ in keeper }
        var settings = ProxyHarness.fastMock
        settings.tokens = 30
        settings.tokensPerSecond = 30
        let proxy = try ProxyHarness(chain: "- filter: keeper", registry: registry, upstreamSettings: settings)
        let client = try TestClient(port: proxy.port)
        try client.send(HTTPRequestHead(method: "POST", target: "/v1/chat/completions",
                                        headers: HTTPHeaders([("host", "x"), ("content-type", "application/json")])),
                        body: Array(TestClient.chatRequest().utf8))
        _ = try client.readItem()
        _ = try client.readItem()
        client.close()
        return proxy
    }

    @Test func aKeptUpstreamRunsToItsEndWithoutItsClientAndTheExchangeEndsOnce() throws {
        let keeper = Keeper(keep: true)
        let proxy = try Self.leaveAfterTwoEvents(keeper)
        defer { proxy.stop() }
        #expect(proxy.upstream.journal.wait(timeout: .seconds(10)) { $0.first?.ending != nil })
        #expect(proxy.upstream.journal.entries.first?.ending == .finished)
        let scrape = try proxy.metrics(within: .seconds(10)) { $0.value("sluice_requests_total") == 1 }
        #expect(scrape.value("sluice_requests_total", ["outcome": "client_gone"]) == 1)
        let outcomes = keeper.outcomes.withLock { $0 }
        #expect(outcomes.count == 1)
        #expect(outcomes.first?.kind == .clientGone)
        #expect(outcomes.first?.keptUpstreamEnding == .completed)
        #expect(outcomes.first?.status == 200)
        // The events the client never got still reached the filter, up to the final one.
        #expect(keeper.eventsWithoutClient.withLock { $0 } > 10)
    }

    @Test func aFilterThatFailsAKeptUpstreamCancelsIt() throws {
        let keeper = Keeper(keep: true, failAfter: 3)
        let proxy = try Self.leaveAfterTwoEvents(keeper)
        defer { proxy.stop() }
        #expect(proxy.upstream.journal.wait(timeout: .seconds(10)) { $0.first?.ending != nil })
        let entry = try #require(proxy.upstream.journal.entries.first)
        #expect(entry.ending == .cancelledByPeer)
        #expect(entry.bodyStepsSent < entry.bodyStepsPlanned)
        _ = try proxy.metrics(within: .seconds(10)) { $0.value("sluice_requests_total") == 1 }
        let outcome = try #require(keeper.outcomes.withLock { $0 }.first)
        #expect(outcome.kind == .clientGone)
        #expect(outcome.keptUpstreamEnding == .truncated)
        #expect(outcome.decidedBy == "keeper")
        #expect(outcome.error?.message == "enough")
    }

    @Test func aFilterThatAnswersCancelLeavesTheUsualCancellation() throws {
        let keeper = Keeper(keep: false)
        let proxy = try Self.leaveAfterTwoEvents(keeper)
        defer { proxy.stop() }
        #expect(proxy.upstream.journal.wait(timeout: .seconds(10)) { $0.first?.ending != nil })
        #expect(proxy.upstream.journal.entries.first?.ending == .cancelledByPeer)
        _ = try proxy.metrics(within: .seconds(10)) { $0.value("sluice_requests_total") == 1 }
        #expect(keeper.left.withLock { $0 })
        let outcome = try #require(keeper.outcomes.withLock { $0 }.first)
        #expect(outcome.kind == .clientGone)
        #expect(outcome.keptUpstreamEnding == nil)
    }

    /// Answers every request with two events of its own, from a timer after suspending.
    final class OwnStreamer: Filter {
        let beganInsideTheHook = Mutex<Bool?>(nil)

        func onRequest(_ exchange: Exchange) -> Decision {
            beganInsideTheHook.withLock { $0 = exchange.beginOwnStream(HTTPResponseHead(status: 200)) }
            exchange.schedule(after: .zero) {
                var head = HTTPResponseHead(status: 200)
                head.headers.set("content-type", "text/event-stream")
                guard exchange.beginOwnStream(head) else { return }
                exchange.writeOwnStream(SSEEvent(data: "one", id: "1").serialized)
                exchange.executeOnLoop {
                    exchange.writeOwnStream(SSEEvent(data: "two", id: "2").serialized)
                    exchange.endOwnStream()
                }
            }
            return .suspend
        }
    }

    @Test func aFilterStreamsItsOwnResponseWithoutAnUpstream() throws {
        let streamer = OwnStreamer()
        let registry = BuiltinFilters.registry()
        registry.register("streamer") { _ in streamer }
        let proxy = try ProxyHarness(chain: "- filter: streamer", registry: registry)
        defer { proxy.stop() }
        let client = try TestClient(port: proxy.port)
        defer { client.close() }
        for _ in 0..<2 {  // twice on one connection: the stream ends properly and keeps it
            try client.send(HTTPRequestHead(method: "GET", target: "/anything", headers: HTTPHeaders([("host", "x")])))
            let response = try client.readResponse()
            #expect(response.status == 200)
            #expect(response.ending == .complete)
            #expect(response.sseEvents.map(\.data) == ["one", "two"])
            #expect(response.head.headers["x-request-id"] != nil)
        }
        #expect(streamer.beganInsideTheHook.withLock { $0 } == false, "a stream began before the hook answered .suspend")
        #expect(proxy.upstream.journal.entries.isEmpty)
        let scrape = try proxy.metrics(within: .seconds(10)) { $0.value("sluice_requests_total") == 2 }
        #expect(scrape.value("sluice_requests_total", ["outcome": "completed", "status": "200"]) == 2)
    }
}
