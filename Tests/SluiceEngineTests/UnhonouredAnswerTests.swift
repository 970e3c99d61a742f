import Logging
import SluiceFilterAPI
import SluiceTesting
import Synchronization
import Testing

/// A hook's answer that its phase cannot honour counts as `.next` (`.pass` for events), and the log
/// says so once per filter and answer, not once per request.
@Suite(.serialized)
struct UnhonouredAnswerTests {
    /// Answers `.retry` from `onRequest`, where nothing was tried yet.
    final class RetryTooEarly: Filter {
        func onRequest(_ exchange: Exchange) -> Decision { .retry(after: .milliseconds(5)) }
    }

    /// Answers `.suspend` for every response chunk, which that hook cannot honour.
    final class SuspendChunks: Filter {
        var wantsChunks: Bool { true }
        func onResponseChunk(_ exchange: Exchange, _ chunk: inout ResponseChunk) -> Decision { .suspend }
    }

    /// Answers `.drop` for every event without declaring `rewritesEvents`, and counts the events
    /// it sees, to show whether a filter after it (in response order) still sees them.
    final class DropWithoutRewriting: Filter {
        let seen = Mutex(0)
        var wantsEvents: Bool { true }
        func onEvent(_ exchange: Exchange, _ event: inout SSEEvent, _ info: LLMEventInfo) -> EventDecision {
            seen.withLock { $0 += 1 }
            return .drop
        }
    }

    @Test func aRetryFromARequestHookCountsAsNextAndIsWarnedAboutOnce() throws {
        let log = CapturedLog()
        let registry = FilterRegistry()
        registry.register("retry_too_early") { _ in RetryTooEarly() }
        let proxy = try ProxyHarness(filterFile: ProxyHarness.filterFile(chain: "- filter: retry_too_early\n  name: early"),
                                     registry: registry, options: { $0.logger = log.logger })
        defer { proxy.stop() }
        for _ in 0..<3 {
            let response = try TestClient.post(port: proxy.port, path: "/v1/chat/completions", json: TestClient.chatRequest())
            #expect(response.status == 200)
            #expect(response.ending == .complete)
        }
        #expect(proxy.upstream.journal.entries.count == 3)
        let warnings = log.messages(at: .warning).filter { $0.contains("filter 'early'") }
        #expect(warnings == ["filter 'early' of chain 'main' answered .retry from onRequest, which cannot honour it: "
                                + "it counts as .next (reported once per filter and answer)"])
    }

    @Test func chunkAndEventAnswersTheirHookCannotHonourAreWarnedAboutOnceEach() throws {
        let log = CapturedLog()
        let registry = FilterRegistry()
        let dropper = DropWithoutRewriting()
        let behind = DropWithoutRewriting()
        registry.register("suspend_chunks") { _ in SuspendChunks() }
        // Listed first, so it runs after the other in response order: it sees an event only when
        // the `.drop` before it did not stop the walk.
        registry.register("behind") { _ in behind }
        registry.register("drop_events") { _ in dropper }
        let chain = "- filter: behind\n- filter: drop_events\n- filter: suspend_chunks"
        let proxy = try ProxyHarness(filterFile: ProxyHarness.filterFile(chain: chain), registry: registry,
                                     options: { $0.logger = log.logger })
        defer { proxy.stop() }
        var eventsReceived = 0
        for _ in 0..<2 {
            let response = try TestClient.post(port: proxy.port, path: "/v1/chat/completions", json: TestClient.chatRequest())
            #expect(response.status == 200)
            #expect(response.ending == .complete)
            // Nothing was dropped: the chain forwards bytes as they arrive.
            #expect(response.sseEvents.count > 2)
            eventsReceived += response.sseEvents.count
        }
        #expect(dropper.seen.withLock { $0 } == eventsReceived)
        #expect(behind.seen.withLock { $0 } == eventsReceived)
        let warnings = log.messages(at: .warning).filter { $0.hasPrefix("filter '") }
        #expect(warnings.count == 3, "\(warnings)")
        #expect(warnings.contains { $0.hasPrefix("filter 'suspend_chunks' of chain 'main' answered .suspend from onResponseChunk") })
        #expect(warnings.contains { $0.hasPrefix("filter 'drop_events' of chain 'main' answered .drop from onEvent, which cannot honour it: it counts as .pass") })
        #expect(warnings.contains { $0.hasPrefix("filter 'behind' of chain 'main' answered .drop from onEvent") })
    }
}
