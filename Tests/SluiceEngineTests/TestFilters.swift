import Foundation
import SluiceFilterAPI
import SluiceFilters
import SluiceHTTP
import SluiceMock
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// Small filters for `FilterAPITests`. Each records what it saw into a `FilterProbe` that the test
// shares with the factories, so the test can check what the engine did from the filters' side.

/// What the test filters saw, in the order they saw it, from every worker thread.
final class FilterProbe: Sendable {
    struct Note: Sendable, CustomStringConvertible {
        /// The filter's name in its chain.
        var filter: String
        var hook: String
        var requestID: String
        var detail: String
        var description: String { "\(filter).\(hook)[\(requestID)] \(detail)" }
        /// `filter.hook`, for comparing sequences.
        var call: String { "\(filter).\(hook)" }
    }

    private let notes = Mutex<[Note]>([])

    func record(_ filter: String, _ hook: String, _ exchange: Exchange, _ detail: String = "") {
        let note = Note(filter: filter, hook: hook, requestID: exchange.id, detail: detail)
        notes.withLock { $0.append(note) }
    }

    func record(_ filter: String, _ hook: String, requestID: String, _ detail: String = "") {
        let note = Note(filter: filter, hook: hook, requestID: requestID, detail: detail)
        notes.withLock { $0.append(note) }
    }

    var all: [Note] { notes.withLock { $0 } }

    func notes(for requestID: String) -> [Note] { all.filter { $0.requestID == requestID } }

    /// The details of `filter`'s notes for `hook` of one exchange.
    func details(_ requestID: String, _ filter: String, _ hook: String) -> [String] {
        notes(for: requestID).filter { $0.filter == filter && $0.hook == hook }.map(\.detail)
    }

    /// Notes of hooks that ran after the filter's `onComplete` for the same exchange.
    var lateCalls: [Note] { all.filter { $0.hook.hasPrefix("late:") } }

    /// Polls (every 2 ms) until `condition` holds or `timeout` passes; answers whether it held.
    func wait(timeout: Duration = .seconds(10), until condition: ([Note]) -> Bool) -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if condition(all) { return true }
            usleep(2_000)
        }
        return condition(all)
    }

    /// Waits until `count` filters have run `onComplete` for `requestID`.
    func waitForCompletion(of requestID: String, filters count: Int = 1, timeout: Duration = .seconds(10)) -> Bool {
        wait(timeout: timeout) { notes in
            notes.filter { $0.requestID == requestID && $0.hook == "onComplete" }.count >= count
        }
    }
}

/// The current thread, printable, for telling threads apart.
func currentThreadID() -> String { String(describing: pthread_self()) }

/// Per-exchange state every test filter keeps: whether its `onComplete` already ran. Kept by
/// identity (`untypedLocal`), not as a typed state, on purpose: a typed state goes at the
/// exchange's end, and the mark must outlive it to tell a late hook.
final class CompletionMark {
    var completed = false
    var failed = false
}

/// Registers the test filter types next to the built-ins; every factory records into `probe`.
enum TestFilters {
    static func registry(_ probe: FilterProbe) -> FilterRegistry {
        let registry = BuiltinFilters.registry()
        registry.register("record") { RecordingFilter($0, probe) }
        registry.register("quota") { QuotaFilter($0, probe) }
        registry.register("pause") { PauseFilter($0, probe) }
        registry.register("retry_on_error") { RetryOnErrorFilter($0, probe) }
        registry.register("retry_on_503") { RetryOn503Filter($0, probe) }
        registry.register("fail_mid_stream") { FailMidStreamFilter($0, probe) }
        registry.register("event_probe") { EventProbeFilter($0, probe) }
        registry.register("shout") { ShoutFilter($0, probe) }
        registry.register("trailer") { TrailerFilter($0) }
        registry.register("drop_endpoints") { DropEndpointsFilter($0, probe) }
        registry.register("body_rewrite") { BodyRewriteFilter($0, probe) }
        registry.register("comment") { CommentFilter($0) }
        return registry
    }
}

/// Notes every hook call (`late:<hook>` when it comes after this filter's `onComplete` for the
/// exchange). Config: `events` (bool) to receive `onEvent`; `body_limit` (size) to ask for the
/// request body; `reject_on_header` (a header name): answer `.reject` (403) in `onRequest` when the
/// request carries it; `fail_in` (`request`, `select`, `response_head`, `event`): call
/// `exchange.fail` (403) from inside that hook, then answer `.next` / `.pass`; `access` (`info`,
/// `read`): the filter's `eventAccess` with `events` (default `read`); each event's data is noted as
/// `eventData`; `hooks` (a list of hook names, default all): the filter's `hooks`.
final class RecordingFilter: Filter {
    enum FailIn: String, CaseIterable { case none, request, select, responseHead = "response_head", event }

    let name: String
    let probe: FilterProbe
    let wantsEvents: Bool
    let wantsChunks = true
    let requestBodyLimit: Int?
    let rejectOnHeader: String?
    let failIn: FailIn
    let eventAccess: EventAccess
    let hooks: FilterHooks

    init(_ setup: FilterSetup, _ probe: FilterProbe) {
        name = setup.name
        let named: [String: FilterHooks] = [
            "onRequest": .onRequest, "onRequestBody": .onRequestBody, "selectUpstream": .selectUpstream,
            "onUpstreamConnected": .onUpstreamConnected, "onUpstreamError": .onUpstreamError,
            "onResponseHead": .onResponseHead, "onClientBlocked": .onClientBlocked,
            "onClientDrained": .onClientDrained, "onComplete": .onComplete,
        ]
        hooks = setup.config.strings("hooks").map { FilterHooks($0.compactMap { named[$0] }) } ?? .all
        self.probe = probe
        wantsEvents = setup.config.bool("events", default: false)
        requestBodyLimit = setup.config.size("body_limit")
        rejectOnHeader = setup.config.string("reject_on_header")
        failIn = setup.config.oneOf("fail_in", FailIn.self, default: .none)
        enum Access: String, CaseIterable { case info, read }
        let access = setup.config.oneOf("access", Access.self, default: .read)
        eventAccess = !wantsEvents ? .none : access == .info ? .info : .read
    }

    /// Calls `exchange.fail` once per exchange when `hook` is the configured one.
    private func failIfAsked(_ exchange: Exchange, in hook: FailIn) {
        guard failIn == hook else { return }
        let mark = exchange.untypedLocal(for: self) { CompletionMark() }
        guard !mark.failed else { return }
        mark.failed = true
        exchange.fail(ProxyError(.forbidden, "failed by \(name)", source: .filter(name)))
    }

    private func note(_ exchange: Exchange, _ hook: String, _ detail: String = "") {
        let mark = exchange.untypedLocal(for: self) { CompletionMark() }
        probe.record(name, mark.completed ? "late:" + hook : hook, exchange, detail)
    }

    func onRequest(_ exchange: Exchange) -> Decision {
        note(exchange, "onRequest")
        if let rejectOnHeader, exchange.request.headers.contains(rejectOnHeader) {
            return .reject(ProxyError(.forbidden, "refused by \(name)", source: .filter(name)))
        }
        failIfAsked(exchange, in: .request)
        return .next
    }

    func onRequestBody(_ exchange: Exchange) -> Decision {
        note(exchange, "onRequestBody", "\(exchange.requestBody?.count ?? -1)")
        return .next
    }

    func selectUpstream(_ exchange: Exchange, _ candidates: inout [EndpointCandidate]) -> Decision {
        note(exchange, "selectUpstream", "attempt=\(exchange.attempt)")
        failIfAsked(exchange, in: .select)
        return .next
    }

    func onUpstreamError(_ exchange: Exchange, _ error: ProxyError) -> Decision {
        note(exchange, "onUpstreamError", error.kind.rawValue)
        return .next
    }

    func onResponseHead(_ exchange: Exchange) -> Decision {
        note(exchange, "onResponseHead", "\(exchange.response?.status ?? 0)")
        failIfAsked(exchange, in: .responseHead)
        return .next
    }

    func onResponseChunk(_ exchange: Exchange, _ chunk: inout ResponseChunk) -> Decision {
        note(exchange, "onResponseChunk", "\(chunk.bytes.count)")
        return .next
    }

    func onEvent(_ exchange: Exchange, _ event: inout SSEEvent, _ info: LLMEventInfo) -> EventDecision {
        note(exchange, "onEvent", "\(info.kind)")
        note(exchange, "eventData", event.data)
        failIfAsked(exchange, in: .event)
        return .pass
    }

    func onComplete(_ exchange: Exchange, _ outcome: Outcome) {
        note(exchange, "onComplete", outcome.kind.rawValue)
        exchange.untypedLocal(for: self) { CompletionMark() }.completed = true
    }
}

/// A stand-in for a rate limiter. Requests with `x-test-over-quota` are refused with a 429 carrying
/// `Retry-After` and `RateLimit-Limit`; others pass with `RateLimit-*` headers added to whatever
/// response they get. Config: `limit` (int, default 5), `retry_after` (int seconds, default 3).
final class QuotaFilter: Filter {
    let name: String
    let probe: FilterProbe
    let limit: Int
    let retryAfter: Int

    init(_ setup: FilterSetup, _ probe: FilterProbe) {
        name = setup.name
        self.probe = probe
        limit = setup.config.int("limit", default: 5, in: 1...1_000_000)
        retryAfter = setup.config.int("retry_after", default: 3, in: 0...3600)
    }

    func onRequest(_ exchange: Exchange) -> Decision {
        if exchange.request.headers.contains("x-test-over-quota") {
            return .reject(ProxyError(.rateLimited, "quota of \(limit) requests used up", source: .filter(name),
                                      retryAfterSeconds: retryAfter, headers: [("RateLimit-Limit", String(limit))]))
        }
        exchange.responseHeaders.append(("RateLimit-Limit", String(limit)))
        exchange.responseHeaders.append(("RateLimit-Remaining", String(limit - 1)))
        return .next
    }

    func onComplete(_ exchange: Exchange, _ outcome: Outcome) {
        probe.record(name, "onComplete", exchange, outcome.kind.rawValue)
    }
}

/// Answers `.suspend` in `onRequest` (or in `onResponseHead` with `in: response_head`, holding the
/// head back) and resumes with `.next` after `delay` (default 100ms): with `exchange.schedule`
/// (`from: loop`, the default) or with `resumeFromAnyThread` from a dispatch queue (`from: thread`).
/// Notes the threads involved.
final class PauseFilter: Filter {
    /// Who resumes: a timer on the loop, another thread, or the hook itself before it answers
    /// `.suspend` (an answer that turned out to be ready at once).
    enum ResumeFrom: String, CaseIterable { case loop, thread, hook }
    enum Phase: String, CaseIterable { case request, responseHead = "response_head" }

    let name: String
    let probe: FilterProbe
    let delay: Duration
    let from: ResumeFrom
    let phase: Phase

    init(_ setup: FilterSetup, _ probe: FilterProbe) {
        name = setup.name
        self.probe = probe
        delay = setup.config.duration("delay", default: .milliseconds(100))
        from = setup.config.oneOf("from", ResumeFrom.self, default: .loop)
        phase = setup.config.oneOf("in", Phase.self, default: .request)
    }

    private func pause(_ exchange: Exchange) -> Decision {
        switch from {
        case .loop:
            exchange.schedule(after: delay) { [probe, name] in
                probe.record(name, "resuming", exchange, currentThreadID())
                exchange.resume(.next)
            }
        case .thread:
            let milliseconds = Int(delay.nanosecondsClamped / 1_000_000)
            let resume: @Sendable () -> Void = { [probe, name] in
                probe.record(name, "resuming", exchange, currentThreadID())
                exchange.resumeFromAnyThread(.next)
            }
            DispatchQueue.global().asyncAfter(deadline: .now() + .milliseconds(milliseconds), execute: resume)
        case .hook:
            probe.record(name, "resuming", exchange, currentThreadID())
            exchange.resume(.next)
        }
        return .suspend
    }

    func onRequest(_ exchange: Exchange) -> Decision {
        probe.record(name, "onRequest", exchange, currentThreadID())
        return phase == .request ? pause(exchange) : .next
    }

    func selectUpstream(_ exchange: Exchange, _ candidates: inout [EndpointCandidate]) -> Decision {
        probe.record(name, "selectUpstream", exchange, currentThreadID())
        return .next
    }

    func onResponseHead(_ exchange: Exchange) -> Decision {
        probe.record(name, "onResponseHead", exchange, "attempt=\(exchange.attempt)")
        return phase == .responseHead && exchange.attempt == 1 ? pause(exchange) : .next
    }

    func onComplete(_ exchange: Exchange, _ outcome: Outcome) {
        probe.record(name, "onComplete", exchange, outcome.kind.rawValue)
    }
}

/// `onUpstreamError` answers `.retry(after: nil)` while `exchange.attempt <= max_retries` (default 1).
/// With `pin_first: true` the first attempt may only use the group's first endpoint. Notes the
/// errors, and in `onComplete` the attempt count, the endpoints tried and the last endpoint.
final class RetryOnErrorFilter: Filter {
    let name: String
    let probe: FilterProbe
    let maxRetries: Int
    let pinFirst: Bool

    init(_ setup: FilterSetup, _ probe: FilterProbe) {
        name = setup.name
        self.probe = probe
        maxRetries = setup.config.int("max_retries", default: 1, in: 0...10)
        pinFirst = setup.config.bool("pin_first", default: false)
    }

    func selectUpstream(_ exchange: Exchange, _ candidates: inout [EndpointCandidate]) -> Decision {
        probe.record(name, "selectUpstream", exchange, "attempt=\(exchange.attempt) candidates=\(candidates.map(\.url).joined(separator: ","))")
        if pinFirst && exchange.attempt == 1 { candidates.removeAll { $0.index != 0 } }
        return .next
    }

    func onUpstreamError(_ exchange: Exchange, _ error: ProxyError) -> Decision {
        probe.record(name, "onUpstreamError", exchange, "attempt=\(exchange.attempt) \(error.kind.rawValue)")
        return exchange.attempt <= maxRetries ? .retry(after: nil) : .next
    }

    func onComplete(_ exchange: Exchange, _ outcome: Outcome) {
        probe.record(name, "onComplete", exchange, outcome.kind.rawValue)
        probe.record(name, "attempt", exchange, String(exchange.attempt))
        probe.record(name, "tried", exchange, exchange.triedEndpoints.joined(separator: " "))
        probe.record(name, "endpoint", exchange, exchange.endpoint?.url ?? "none")
    }
}

/// `onResponseHead` answers `.retry(after: delay)` (default 20ms) to a 503 on the first attempt;
/// `selectUpstream` strips the mock's `x-mock-status` fault header from the second attempt on.
final class RetryOn503Filter: Filter {
    let name: String
    let probe: FilterProbe
    let delay: Duration

    init(_ setup: FilterSetup, _ probe: FilterProbe) {
        name = setup.name
        self.probe = probe
        delay = setup.config.duration("delay", default: .milliseconds(20))
    }

    func selectUpstream(_ exchange: Exchange, _ candidates: inout [EndpointCandidate]) -> Decision {
        if exchange.attempt >= 2 { exchange.request.headers.remove("x-mock-status") }
        return .next
    }

    func onResponseHead(_ exchange: Exchange) -> Decision {
        let status = exchange.response?.status ?? 0
        probe.record(name, "onResponseHead", exchange, "attempt=\(exchange.attempt) status=\(status) headSent=\(exchange.headSent)")
        return status == 503 && exchange.attempt == 1 ? .retry(after: delay) : .next
    }

    func onComplete(_ exchange: Exchange, _ outcome: Outcome) {
        probe.record(name, "onComplete", exchange, outcome.kind.rawValue)
        probe.record(name, "attempt", exchange, String(exchange.attempt))
    }
}

/// Calls `exchange.fail` from `onEvent` on the `after`-th content event (default 1; with
/// `counting: any`, the `after`-th event of any kind) and answers `.pass`. Also offers a retry on every upstream error, which must never be taken once the
/// head went out. Notes every hook, `late:` ones after its `onComplete`.
final class FailMidStreamFilter: Filter {
    enum Counting: String, CaseIterable { case content, any }

    /// Kept by identity (`untypedLocal`), not as a typed state, on purpose: a typed state goes at
    /// the exchange's end, and the mark must outlive it to tell a late hook.
    final class State {
        var contentEvents = 0
        var failed = false
        var completed = false
    }

    let name: String
    let probe: FilterProbe
    let after: Int
    let counting: Counting
    var wantsEvents: Bool { true }

    init(_ setup: FilterSetup, _ probe: FilterProbe) {
        name = setup.name
        self.probe = probe
        after = setup.config.int("after", default: 1, in: 1...1000)
        counting = setup.config.oneOf("counting", Counting.self, default: .content)
    }

    func onUpstreamError(_ exchange: Exchange, _ error: ProxyError) -> Decision {
        let state = exchange.untypedLocal(for: self) { State() }
        probe.record(name, state.completed ? "late:onUpstreamError" : "onUpstreamError", exchange, error.kind.rawValue)
        return .retry(after: nil)
    }

    func onEvent(_ exchange: Exchange, _ event: inout SSEEvent, _ info: LLMEventInfo) -> EventDecision {
        let state = exchange.untypedLocal(for: self) { State() }
        probe.record(name, state.completed ? "late:onEvent" : "onEvent", exchange, "\(info.kind)")
        if info.kind == .content || counting == .any { state.contentEvents += 1 }
        if !state.failed && state.contentEvents == after {
            state.failed = true
            probe.record(name, "failing", exchange, "headSent=\(exchange.headSent)")
            exchange.fail(ProxyError(.upstreamError, "stopped by \(name)", source: .filter(name)))
        }
        return .pass
    }

    func onComplete(_ exchange: Exchange, _ outcome: Outcome) {
        let state = exchange.untypedLocal(for: self) { State() }
        probe.record(name, state.completed ? "late:onComplete" : "onComplete", exchange, outcome.kind.rawValue)
        state.completed = true
        probe.record(name, "attempt", exchange, String(exchange.attempt))
    }
}

/// Notes each event's classification (`preamble(role)` for a role-only delta) and, at the first
/// content event, whether `timings.firstToken` is already set. In `onComplete` notes
/// `firstTokenAfterHead`, `completionTokens` and `usage` (the usage's completion tokens, or `none`).
final class EventProbeFilter: StatefulFilter {
    final class ExchangeState { var sawContent = false }
    let stateSlot = ExchangeStateSlot()
    func makeState(for exchange: Exchange) -> ExchangeState { ExchangeState() }

    let name: String
    let probe: FilterProbe
    var wantsEvents: Bool { true }

    init(_ setup: FilterSetup, _ probe: FilterProbe) {
        name = setup.name
        self.probe = probe
    }

    func onEvent(_ exchange: Exchange, _ event: inout SSEEvent, _ info: LLMEventInfo) -> EventDecision {
        let state = exchange.state(for: self)
        let isRoleOnly = info.kind == .preamble && event.data.contains(#""role":"assistant""#)
        probe.record(name, "onEvent", exchange, isRoleOnly ? "preamble(role)" : "\(info.kind)")
        if info.kind == .content && !state.sawContent {
            state.sawContent = true
            probe.record(name, "firstContent", exchange, exchange.timings.firstToken == nil ? "firstToken=nil" : "firstToken=set")
        }
        return .pass
    }

    func onComplete(_ exchange: Exchange, _ outcome: Outcome) {
        probe.record(name, "onComplete", exchange, outcome.kind.rawValue)
        let t = exchange.timings
        let ordered = t.firstToken != nil && t.responseHead != nil && t.responseHead! <= t.firstToken!
        probe.record(name, "firstTokenAfterHead", exchange, String(ordered))
        probe.record(name, "completionTokens", exchange, String(exchange.tokens.completionTokens))
        probe.record(name, "usage", exchange, exchange.tokens.usage?.completionTokens.map { String($0) } ?? "none")
    }
}

/// Adds an event of its own before the event that ends the stream (`[DONE]`), with `.prepend`.
/// Config: `text`, the added event's data.
final class TrailerFilter: Filter {
    let text: String
    var wantsEvents: Bool { true }
    var rewritesEvents: Bool { true }

    init(_ setup: FilterSetup) {
        text = setup.config.string("text", default: "trailer")
        setup.config.finish()
    }

    func onEvent(_ exchange: Exchange, _ event: inout SSEEvent, _ info: LLMEventInfo) -> EventDecision {
        info.kind == .done ? .prepend([SSEEvent(event: "trailer", data: text)]) : .pass
    }
}

/// Rewrites events: drops the role-only preamble and uppercases the mock's words in content deltas.
final class ShoutFilter: Filter {
    let name: String
    let probe: FilterProbe
    var wantsEvents: Bool { true }
    var rewritesEvents: Bool { true }

    init(_ setup: FilterSetup, _ probe: FilterProbe) {
        name = setup.name
        self.probe = probe
    }

    func onEvent(_ exchange: Exchange, _ event: inout SSEEvent, _ info: LLMEventInfo) -> EventDecision {
        if info.kind == .preamble && event.data.contains(#""role":"assistant""#) {
            probe.record(name, "dropped", exchange)
            return .drop
        }
        guard info.kind == .content else { return .pass }
        var data = event.data
        for word in MockTokens.words {
            data = data.replacingOccurrences(of: "\"content\":\"\(word)\"", with: "\"content\":\"\(word.uppercased())\"")
        }
        guard data != event.data else { return .pass }
        event.data = data
        return .modified
    }

    func onComplete(_ exchange: Exchange, _ outcome: Outcome) {
        probe.record(name, "onComplete", exchange, outcome.kind.rawValue)
    }
}

/// `selectUpstream` notes the candidates' URLs and removes the first one (`drop: first`, the
/// default) or all (`drop: all`). `onComplete` notes the outcome and the exchange's endpoint URL.
final class DropEndpointsFilter: Filter {
    enum Drop: String, CaseIterable { case first, all }

    let name: String
    let probe: FilterProbe
    let drop: Drop

    init(_ setup: FilterSetup, _ probe: FilterProbe) {
        name = setup.name
        self.probe = probe
        drop = setup.config.oneOf("drop", Drop.self, default: .first)
    }

    func selectUpstream(_ exchange: Exchange, _ candidates: inout [EndpointCandidate]) -> Decision {
        probe.record(name, "selectUpstream", exchange, candidates.map(\.url).joined(separator: ","))
        switch drop {
        case .first: if !candidates.isEmpty { candidates.removeFirst() }
        case .all: candidates.removeAll()
        }
        return .next
    }

    func onComplete(_ exchange: Exchange, _ outcome: Outcome) {
        probe.record(name, "onComplete", exchange, outcome.kind.rawValue)
        probe.record(name, "endpoint", exchange, exchange.endpoint?.url ?? "none")
    }
}

/// Asks for the request body (`limit`, default 1KiB), notes it in `onRequestBody`, and replaces it
/// with the same JSON object starting with `"max_tokens":<max_tokens>` (default 2).
final class BodyRewriteFilter: Filter {
    let name: String
    let probe: FilterProbe
    let requestBodyLimit: Int?
    let maxTokens: Int

    init(_ setup: FilterSetup, _ probe: FilterProbe) {
        name = setup.name
        self.probe = probe
        requestBodyLimit = setup.config.size("limit", default: 1024)
        maxTokens = setup.config.int("max_tokens", default: 2, in: 1...100_000)
    }

    func onRequestBody(_ exchange: Exchange) -> Decision {
        let text = exchange.requestBody.map { String(decoding: $0, as: UTF8.self) } ?? "<nil>"
        probe.record(name, "onRequestBody", exchange, text)
        if text.hasPrefix("{") {
            exchange.requestBody = Array(("{\"max_tokens\":\(maxTokens)," + text.dropFirst()).utf8)
        }
        return .next
    }

    func onComplete(_ exchange: Exchange, _ outcome: Outcome) {
        probe.record(name, "onComplete", exchange, outcome.kind.rawValue)
    }
}

/// Sends its config's `text` as an SSE comment when the request arrives, then goes on.
final class CommentFilter: Filter {
    let text: String
    init(_ setup: FilterSetup) { text = setup.config.string("text", default: "hello") }
    func onRequest(_ exchange: Exchange) -> Decision {
        exchange.sendComment(text)
        return .next
    }
}
