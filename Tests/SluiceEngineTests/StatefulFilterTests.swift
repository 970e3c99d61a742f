import SluiceFilterAPI
import SluiceTesting
import Synchronization
import Testing

/// Notes, for each exchange, the state object every hook got from `exchange.state(for:)`, how many
/// states it made, and keeps each ended exchange (strongly) and its state (weakly), so a test can
/// tell that the state went at the end although the exchange is still held.
final class StateRecorder: StatefulFilter, @unchecked Sendable {
    final class ExchangeState {
        var hooks: [String] = []
    }

    let stateSlot = ExchangeStateSlot()
    private let lock = Mutex(())
    private(set) var made = 0
    /// Per hook run: the hook and the identity of the state it got.
    private(set) var seen: [(hook: String, state: ObjectIdentifier)] = []
    private(set) var ended: [Exchange] = []
    private(set) var existingBefore: [Bool] = []
    private weak var lastState: ExchangeState?

    func makeState(for exchange: Exchange) -> ExchangeState {
        lock.withLock { _ in made += 1 }
        return ExchangeState()
    }

    private func note(_ exchange: Exchange, _ hook: String) {
        let state = exchange.state(for: self)
        state.hooks.append(hook)
        lock.withLock { _ in
            seen.append((hook, ObjectIdentifier(state)))
            lastState = state
        }
    }

    func onRequest(_ exchange: Exchange) -> Decision {
        lock.withLock { _ in existingBefore.append(exchange.existingState(for: self) != nil) }
        note(exchange, "request")
        return .next
    }

    func onResponseHead(_ exchange: Exchange) -> Decision {
        note(exchange, "head")
        return .next
    }

    var wantsEvents: Bool { true }
    var eventAccess: EventAccess { .info }
    func onEvent(_ exchange: Exchange, _ event: inout SSEEvent, _ info: LLMEventInfo) -> EventDecision {
        note(exchange, "event")
        return .pass
    }

    func onComplete(_ exchange: Exchange, _ outcome: Outcome) {
        note(exchange, "complete")
        lock.withLock { _ in ended.append(exchange) }
    }

    var lastStateIsFreed: Bool { lock.withLock { _ in lastState == nil } }
}

/// `StatefulFilter`: one state per exchange, the same object in every hook, each filter its own,
/// and nothing kept once the exchange ended, whoever still holds the exchange.
@Suite(.serialized)
struct StatefulFilterTests {
    @Test func everyHookOfAnExchangeGetsTheSameStateMadeOnceAndDroppedAtTheEnd() throws {
        let first = StateRecorder()
        let second = StateRecorder()
        let registry = FilterRegistry()
        registry.register("first") { _ in first }
        registry.register("second") { _ in second }
        // A stateless filter between the two: slots count only stateful filters.
        registry.register("plain") { _ in PlainFilter() }
        let proxy = try ProxyHarness(chain: "- filter: first\n- filter: plain\n- filter: second", registry: registry, workers: 1)
        defer { proxy.stop() }
        for _ in 0..<2 {
            let response = try TestClient.post(port: proxy.port, path: "/v1/chat/completions", json: TestClient.chatRequest())
            #expect(response.status == 200 && response.ending == .complete)
        }
        proxy.stop()
        for recorder in [first, second] {
            #expect(recorder.made == 2)
            #expect(recorder.existingBefore == [false, false])
            #expect(recorder.ended.count == 2)
            // Per exchange: request, head, events, complete, all with one state.
            let hooks = recorder.seen.map(\.hook)
            #expect(hooks.filter { $0 == "request" }.count == 2)
            #expect(hooks.filter { $0 == "complete" }.count == 2)
            #expect(hooks.contains("event"))
            let split = recorder.seen.split { $0.hook == "complete" }
            for run in split { #expect(Set(run.map(\.state)).count == 1) }
            #expect(Set(recorder.seen.map(\.state)).count == 2, "each exchange has a state of its own")
            // The ended exchanges are still held here; their states are gone.
            #expect(recorder.lastStateIsFreed)
            #expect(recorder.ended.allSatisfy { $0.existingState(for: recorder) == nil })
        }
        #expect(Set(first.seen.map(\.state)).isDisjoint(with: Set(second.seen.map(\.state))))
    }

    @Test func aFilterOutsideAnyChainFindsItsStateToo() {
        let recorder = StateRecorder()
        let exchange = FilterTestBench.makeExchange()
        #expect(exchange.existingState(for: recorder) == nil)
        let state = exchange.state(for: recorder)
        #expect(exchange.state(for: recorder) === state)
        #expect(exchange.existingState(for: recorder) === state)
        #expect(recorder.made == 1)
    }

    @Test func oneInstanceAtTwoPlacesInTwoChainsKeepsOneStatePerExchangeInEach() {
        let shared = StateRecorder()
        let other = StateRecorder()
        // `shared` is at slot 1 in the first chain and slot 0 in the second, which was built last.
        let inFirst = EmbeddedExchange(filters: [other, shared])
        let inSecond = EmbeddedExchange(filters: [shared])
        for embedded in [inFirst, inSecond] {
            let state = embedded.exchange.state(for: shared)
            #expect(embedded.exchange.state(for: shared) === state)
        }
        #expect(inFirst.exchange.state(for: shared) !== inSecond.exchange.state(for: shared))
        #expect(inFirst.exchange.state(for: other) !== inFirst.exchange.state(for: shared))
        #expect(shared.made == 2)
        inFirst.end(Outcome(kind: .completed, status: 200))
        #expect(inFirst.exchange.existingState(for: shared) == nil)
        #expect(inSecond.exchange.existingState(for: shared) != nil)
        // After the end, a state is still answered, but a new one each time and never kept.
        #expect(inFirst.exchange.state(for: shared) !== inFirst.exchange.state(for: shared))
    }
}

/// A filter with no state.
final class PlainFilter: Filter {}
