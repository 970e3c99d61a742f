import SluiceEngine
import SluiceFilterAPI
import SluiceHTTP
import Synchronization

/// An exchange driven by the test instead of an engine: no proxy, no sockets, no threads, and time
/// that moves only when the test advances it. Feed it what would happen (a request, an upstream's
/// head, events, a client that falls behind or leaves, an ending) and assert what the filters made
/// of it: their answers, what the client was sent (`written`), what they asked of the exchange
/// (`resumes`, `failures`, comments), how it ended (`outcome`).
///
/// ```swift
/// let clock = ManualClock()
/// let filter = try FilterTestBench.makeFilter("timeouts", config: "{ first_token: 2s }", registry: registry, clock: clock)
/// let embedded = EmbeddedExchange(filter, clock: clock)
/// #expect(embedded.request() == .next)
/// embedded.startAttempt(); embedded.upstreamConnected(); embedded.responseHead()
/// embedded.advanceTime(by: .seconds(2))
/// #expect(embedded.outcome?.error?.kind == .firstTokenTimeout)
/// ```
///
/// Time: `exchange.schedule` arms a timer on the `ManualClock`; `advanceTime(by:)` moves the clock
/// and fires every timer due by then, earliest first, each with the clock at its due instant, so a
/// timer that re-arms itself fires again within the same advance when it falls due. Hooks run as
/// the engine runs them: request hooks in file order, response hooks and `onComplete` in reverse,
/// a phase stopped by the first answer that is not `.next`, `exchange.fail` and `exchange.resume`
/// from inside a hook (or a timer) applied once it returns. Timers are cancelled and their bodies
/// dropped when the exchange ends.
///
/// Threading: call everything from one thread, the test's, which stands for the exchange's loop.
/// `exchange.executeOnLoop` and `resumeFromAnyThread` from another thread queue their work, which
/// runs on the test's thread at the next `advanceTime` or `runPendingWork()`.
public final class EmbeddedExchange {
    /// The exchange the filters see.
    public let exchange: Exchange
    /// The clock the exchange and its timers run on: pass the same one to the filter's setup.
    public let clock: ManualClock
    /// The chain, in file order.
    public let filters: [any Filter]
    /// The filters' names (`Outcome.decidedBy`, warnings), in file order.
    public let names: [String]

    /// What the client was sent, in order.
    public private(set) var written: [ClientWrite] = []
    /// Every `exchange.resume` call, in order, applied or not (an exchange that is not suspended
    /// ignores it, as the engine does).
    public private(set) var resumes: [Decision] = []
    /// Every `exchange.fail` call, in order (one made after the exchange ended is ignored, and not listed).
    public private(set) var failures: [ProxyError] = []
    /// The delays of the retries the filters asked for and that were started (nil: at once).
    public private(set) var retries: [Duration?] = []
    /// Answers a hook gave that its phase cannot honour, as the engine's log words them: they
    /// counted as `.next` (`.pass` for events).
    public private(set) var warnings: [String] = []
    /// How the exchange ended; nil while it goes on. Every filter's `onComplete` got it.
    public private(set) var outcome: Outcome?
    /// True while a hook's `.suspend` holds its phase, until a resume.
    public private(set) var isSuspended = false
    /// True once the client left and a filter answered `.keepUpstream`.
    public private(set) var keptUpstream = false
    /// Bytes waiting to be written to the client, as `exchange.clientBacklog` reads it.
    public var clientBacklog = 0
    /// What `exchange.workerLoopLag` reads.
    public var loopLag: Duration = .zero

    /// The comments sent, in order.
    public var comments: [String] {
        written.compactMap { if case .comment(let text) = $0 { text } else { nil } }
    }

    /// The events the client was sent, in order.
    public var events: [SSEEvent] {
        written.compactMap { if case .event(let event) = $0 { event } else { nil } }
    }

    /// True once the exchange ended.
    public var isEnded: Bool { outcome != nil }

    /// How many of the filters' timers are armed.
    public var pendingTimers: Int { timers.pendingCount }

    /// A 200 `text/event-stream` head, what `responseHead()` feeds by default.
    public static var eventStreamHead: HTTPResponseHead {
        HTTPResponseHead(status: 200, headers: HTTPHeaders([("content-type", "text/event-stream")]))
    }

    /// The endpoint every attempt is offered unless the test gives others.
    public static let defaultCandidate = EndpointCandidate(
        id: "fake/http://127.0.0.1:9", group: "fake", url: "http://127.0.0.1:9", host: "127.0.0.1", port: 9, index: 0,
        activeStreams: 0)

    // MARK: - State

    private enum Phase: Equatable {
        case request(Int)
        case requestBody(Int)
        /// The request phases passed; no attempt started yet.
        case admitted
        case selecting(Int)
        case connecting
        case waitingForHead
        case upstreamError(Int)
        case responseHead(Int)
        case retryWait
        case streaming
        case ended
    }

    /// What a hook asked of the exchange while it ran, applied once it returned.
    private enum Held {
        case fail(ProxyError)
        case resume(Decision)
    }

    private let timers: VirtualTimers
    private let candidates: [EndpointCandidate]
    private let rewritesEvents: Bool
    private let readsEventFields: Bool
    private var phase: Phase = .request(0)
    private var running: Int?
    private var depth = 0
    private var held: Held?
    private var decidedBy: String?
    private var pendingUpstreamError: ProxyError?
    private var heldWrites: [ClientWrite] = []
    private var servesOwnStream = false
    private var clientPausedAt: MonotonicInstant?
    /// Work sent to the exchange's loop (`resumeFromAnyThread`, `executeOnLoop`), run by `runLoopWork`.
    private let loopWork = LoopWork()

    /// An exchange through `filters` (file order, named `names` or else `filter0`, `filter1`, …),
    /// made as `FilterTestBench.makeExchange` makes one, on `clock`. `candidates`: the endpoints
    /// each attempt's `selectUpstream` hooks are offered.
    public init(
        filters: [any Filter], names: [String]? = nil, clock: ManualClock = ManualClock(),
        method: String = "POST", path: String = "/v1/chat/completions", headers: [(String, String)] = [],
        body: [UInt8]? = nil, clientAddress: String = "127.0.0.1", id: String = "test-exchange",
        candidates: [EndpointCandidate] = [EmbeddedExchange.defaultCandidate]
    ) {
        self.filters = filters
        self.names = names ?? filters.indices.map { "filter\($0)" }
        self.clock = clock
        self.candidates = candidates
        let access = filters.map(\.eventAccess)
        rewritesEvents = access.contains(.rewrite)
        readsEventFields = access.contains(.read) || access.contains(.rewrite)
        timers = VirtualTimers(clock: clock)
        ExchangeStateSlot.assign(in: filters)
        exchange = FilterTestBench.makeExchange(method: method, path: path, headers: headers, body: body,
                                                clientAddress: clientAddress, clock: clock, id: id)
        exchange.attach(self, loop: loopWork)
    }

    deinit {
        exchange.detach(self)
    }

    /// An exchange through one filter, named `name`.
    public convenience init(
        _ filter: any Filter, name: String = "filter", clock: ManualClock = ManualClock(),
        method: String = "POST", path: String = "/v1/chat/completions", headers: [(String, String)] = [],
        body: [UInt8]? = nil, clientAddress: String = "127.0.0.1", id: String = "test-exchange",
        candidates: [EndpointCandidate] = [EmbeddedExchange.defaultCandidate]
    ) {
        self.init(filters: [filter], names: [name], clock: clock, method: method, path: path, headers: headers, body: body,
                  clientAddress: clientAddress, id: id, candidates: candidates)
    }

    // MARK: - Time

    /// Moves the clock forward by `delta`, first running work queued from other threads, then
    /// firing every timer due by the new time, earliest first, each with the clock at its due
    /// instant (a body that arms a timer due within the advance sees it fire too).
    public func advanceTime(by delta: Duration) {
        advanceTime(to: clock.now() + delta)
    }

    /// Moves the clock forward to `instant` (never back), firing what is due by then.
    public func advanceTime(to instant: MonotonicInstant) {
        runPendingWork()
        var fired = 0
        while let entry = timers.takeNext(dueBy: instant) {
            fired += 1
            precondition(fired < 1_000_000, "a timer re-arms itself without letting time pass")
            guard let body = entry.body, phase != .ended else { continue }
            if let owner = entry.owner { _ = run(owner, body) } else { body() }
            runPendingWork()
        }
        let now = clock.now()
        if instant > now { clock.advance(by: instant.since(now)) }
    }

    /// Runs what `exchange.executeOnLoop` (and `resumeFromAnyThread`) queued, in order.
    public func runPendingWork() {
        while true {
            let work = loopWork.queued.withLock { queued -> [@Sendable () -> Void] in
                let taken = queued
                queued = []
                return taken
            }
            if work.isEmpty { return }
            for body in work { body() }
        }
    }

    /// The instant the next timer is due at, if one is armed.
    public var nextTimerDue: MonotonicInstant? { timers.nextDue }

    // MARK: - Request

    /// The request head arrived: `onRequest` in file order, then, when some filter sets
    /// `requestBodyLimit`, `onRequestBody` in file order with the body given at construction.
    /// Answers what stopped the walk (`.reject`, `.reply`, `.suspend`), or `.next` when every
    /// filter let the request through (the exchange then waits for `startAttempt`).
    @discardableResult
    public func request() -> Decision {
        guard phase == .request(0) else { return .next }
        return runRequestFilters(from: 0)
    }

    private func runRequestFilters(from start: Int) -> Decision {
        var i = start
        while i < filters.count {
            phase = .request(i)
            // As the engine does: a hook the filter does not list in `hooks` is not called.
            if !filters[i].hooks.contains(.onRequest) {
                i += 1
                continue
            }
            guard let decision = ask(i, { filters[i].onRequest(exchange) }) else { return failedAnswer }
            guard proceed(decision, filter: i) else { return decision }
            i += 1
        }
        if filters.contains(where: { $0.requestBodyLimit != nil }) {
            if exchange.requestBody == nil { exchange.requestBody = [] }
            return runBodyFilters(from: 0)
        }
        phase = .admitted
        return .next
    }

    private func runBodyFilters(from start: Int) -> Decision {
        var i = start
        while i < filters.count {
            phase = .requestBody(i)
            // As the engine does: a hook the filter does not list in `hooks` is not called.
            if !filters[i].hooks.contains(.onRequestBody) {
                i += 1
                continue
            }
            guard let decision = ask(i, { filters[i].onRequestBody(exchange) }) else { return failedAnswer }
            guard proceed(decision, filter: i) else { return decision }
            i += 1
        }
        phase = .admitted
        return .next
    }

    /// What a walk answers when a hook failed the exchange instead of answering.
    private var failedAnswer: Decision {
        .reject(outcome?.error ?? failures.last ?? ProxyError(.internalError, "failed"))
    }

    /// Applies a request-phase answer; true to go on with the next filter.
    private func proceed(_ decision: Decision, filter index: Int) -> Bool {
        switch decision {
        case .next:
            return true
        case .retry:
            warn(filter: index, hook: phaseHook, answer: .retry)
            return true
        case .reject(let error):
            decidedBy = names[index]
            respondWithError(error, kind: .rejected)
            return false
        case .reply(let head, let body):
            decidedBy = names[index]
            respondWithReply(head, body: body)
            return false
        case .suspend:
            isSuspended = true
            return false
        }
    }

    private var phaseHook: UnhonouredAnswers.Hook {
        switch phase {
        case .requestBody: return .onRequestBody
        case .selecting: return .selectUpstream
        default: return .onRequest
        }
    }

    // MARK: - Attempts

    /// Starts an attempt, as the engine does once the request phases passed and for every retry:
    /// the attempt number and `timings.attemptStart` move, then `selectUpstream` in file order with
    /// the candidates; the first one left becomes `exchange.endpoint` and the attempt is connecting
    /// (`upstreamConnected()` next). Answers what stopped the walk, or `.next`. A retry the filters
    /// asked for starts its attempt by itself (after its delay, on the clock).
    @discardableResult
    public func startAttempt() -> Decision {
        guard phase == .admitted || phase == .retryWait else { return .next }
        exchange.attempt += 1
        let now = clock.now()
        exchange.timings.attemptStart = now
        if exchange.timings.admitted == nil { exchange.timings.admitted = now }
        var offered = candidates
        var i = 0
        while i < filters.count {
            phase = .selecting(i)
            // As the engine does: a hook the filter does not list in `hooks` is not called.
            if !filters[i].hooks.contains(.selectUpstream) {
                i += 1
                continue
            }
            guard let decision = ask(i, { filters[i].selectUpstream(exchange, &offered) }) else { return failedAnswer }
            guard proceed(decision, filter: i) else { return decision }
            i += 1
        }
        guard let chosen = offered.first(where: { !exchange.triedEndpoints.contains($0.id) }) ?? offered.first else {
            respondWithError(ProxyError(.noUpstream, "no upstream endpoint is available for 'fake'", retryAfterSeconds: 1),
                             kind: .failed)
            return failedAnswer
        }
        exchange.endpoint = chosen
        exchange.triedEndpoints.append(chosen.id)
        phase = .connecting
        return .next
    }

    /// The attempt's upstream connection is ready: `timings.upstreamConnected` is set and
    /// `onUpstreamConnected` runs in reverse order; the attempt then waits for a head.
    public func upstreamConnected() {
        guard phase == .connecting else { return }
        exchange.timings.upstreamConnected = clock.now()
        phase = .waitingForHead
        var i = filters.count - 1
        while i >= 0 {
            if filters[i].hooks.contains(.onUpstreamConnected), run(i, { filters[i].onUpstreamConnected(exchange) }).interrupted { return }
            i -= 1
        }
    }

    /// The attempt failed before a response head (`error`: a connect failure, a reset):
    /// `onUpstreamError` in reverse order. Answers what the walk ended with: `.retry(after:)` (the
    /// next attempt starts by itself after the delay), `.suspend`, `.reply`, or `.next` when the
    /// error (as a `.reject` may have replaced it) ended the exchange as `failed`.
    @discardableResult
    public func upstreamFails(_ error: ProxyError) -> Decision {
        guard phase == .connecting || phase == .waitingForHead else { return .next }
        return attemptFailed(error)
    }

    private func attemptFailed(_ error: ProxyError) -> Decision {
        pendingUpstreamError = error
        return runUpstreamErrorFilters(from: filters.count - 1)
    }

    private func runUpstreamErrorFilters(from start: Int) -> Decision {
        var i = start
        while i >= 0 {
            phase = .upstreamError(i)
            if !filters[i].hooks.contains(.onUpstreamError) {
                i -= 1
                continue
            }
            guard let decision = ask(i, { filters[i].onUpstreamError(exchange, pendingUpstreamError!) }) else { return failedAnswer }
            switch decision {
            case .next:
                break
            case .retry(let delay):
                retry(after: delay)
                return decision
            case .reject(let replacement):
                pendingUpstreamError = replacement
                decidedBy = names[i]
            case .reply(let head, let body):
                decidedBy = names[i]
                respondWithReply(head, body: body)
                return decision
            case .suspend:
                isSuspended = true
                return decision
            }
            i -= 1
        }
        respondWithError(pendingUpstreamError!, kind: .failed)
        return .next
    }

    private func retry(after delay: Duration?) {
        guard !exchange.headSent else { return }
        retries.append(delay)
        exchange.response = nil
        exchange.tokens = StreamTokenAccount(dialect: exchange.dialect)
        exchange.timings.responseHead = nil
        exchange.timings.firstToken = nil
        exchange.timings.lastToken = nil
        decidedBy = nil
        heldWrites = []
        phase = .retryWait
        if let delay, delay > .zero {
            _ = timers.schedule(after: delay, owner: nil) { [weak self] in self?.startAttempt() }
        } else {
            startAttempt()
        }
    }

    // MARK: - Response

    /// The upstream's response head arrived: `exchange.response`, `isEventStream` and
    /// `timings.responseHead` are set, then `onResponseHead` runs in reverse order. When every
    /// filter answers `.next` the head goes to the client (`written`), with `responseHeaders` and
    /// `x-request-id`. Answers what stopped the walk (`.retry(after:)`, `.reject`, `.reply`,
    /// `.suspend`) or `.next`.
    @discardableResult
    public func responseHead(_ head: HTTPResponseHead = EmbeddedExchange.eventStreamHead) -> Decision {
        guard phase == .waitingForHead else { return .next }
        exchange.timings.responseHead = clock.now()
        exchange.response = head
        exchange.isEventStream = head.headers["content-type"]?.lowercased().hasPrefix("text/event-stream") == true
        return runResponseHeadFilters(from: filters.count - 1)
    }

    private func runResponseHeadFilters(from start: Int) -> Decision {
        var i = start
        while i >= 0 {
            phase = .responseHead(i)
            if !filters[i].hooks.contains(.onResponseHead) {
                i -= 1
                continue
            }
            guard let decision = ask(i, { filters[i].onResponseHead(exchange) }) else { return failedAnswer }
            switch decision {
            case .next:
                break
            case .retry(let delay):
                pendingUpstreamError = ProxyError(.upstreamError, "upstream answered \(exchange.response?.status ?? 0)", source: .upstream)
                retry(after: delay)
                return decision
            case .reject(let error):
                decidedBy = names[i]
                respondWithError(error, kind: .failed)
                return decision
            case .reply(let head, let body):
                decidedBy = names[i]
                respondWithReply(head, body: body)
                return decision
            case .suspend:
                isSuspended = true
                return decision
            }
            i -= 1
        }
        commitHead()
        return .next
    }

    private func commitHead() {
        guard var head = exchange.response else { return }
        phase = .streaming
        if !exchange.headSent {
            for (name, value) in exchange.responseHeaders { head.headers.set(name, value) }
            head.headers.set("x-request-id", exchange.id)
            written.append(.head(head))
            exchange.headSent = true
            exchange.timings.firstByteToClient = clock.now()
        }
        written.append(contentsOf: heldWrites)
        heldWrites = []
    }

    /// A piece of the response body: `onResponseChunk` in reverse order for the filters that
    /// `wantsChunks`, then the bytes as they left them go to the client (`.bytes`). Feed SSE
    /// events with `event` instead. Answers `.reject` when a filter ended the stream with it,
    /// else `.next`.
    @discardableResult
    public func chunk(_ bytes: [UInt8]) -> Decision {
        guard phase == .streaming || phase == .waitingForHead || isResponseHeadPhase else { return .next }
        exchange.countResponseRead(bytes: bytes.count)
        var chunk = ResponseChunk(bytes: bytes)
        var i = filters.count - 1
        while i >= 0 {
            if filters[i].wantsChunks {
                let (decision, interrupted) = run(i) { filters[i].onResponseChunk(exchange, &chunk) }
                if interrupted { return failedAnswer }
                switch decision {
                case .next:
                    break
                case .reject(let error):
                    decidedBy = names[i]
                    failNow(error)
                    return decision
                case .retry, .reply, .suspend:
                    if let answer = UnhonouredAnswers.Answer(decision) { warn(filter: i, hook: .onResponseChunk, answer: answer) }
                }
            }
            i -= 1
        }
        write(.bytes(chunk.bytes))
        return .next
    }

    /// One complete SSE event of the response, with what the classifier says of it (`info`, or
    /// the real classification in the exchange's dialect): counted in `exchange.tokens`,
    /// `counters` and `timings` as the engine counts it, then `onEvent` in reverse order for the
    /// filters that take events. Answers the first answer that was not `.pass`, else `.pass`.
    @discardableResult
    public func event(_ event: SSEEvent, info: LLMEventInfo? = nil) -> EventDecision {
        guard phase == .streaming || phase == .waitingForHead || isResponseHeadPhase else { return .pass }
        let info = info ?? LLMEventClassifier.classify(event, dialect: exchange.dialect)
        _ = exchange.recordEvent(info)
        var current = readsEventFields ? event : SSEEvent(data: "")
        var answer = EventDecision.pass
        var added: [SSEEvent] = []
        var dropped = false
        var i = filters.count - 1
        while i >= 0 {
            if filters[i].eventAccess != .none {
                let (decision, interrupted) = run(i) { filters[i].onEvent(exchange, &current, info) }
                if interrupted { return .fail(outcome?.error ?? failures.last ?? ProxyError(.internalError, "failed")) }
                if answer == .pass { answer = decision }
                switch decision {
                case .pass:
                    break
                case .modified:
                    if !rewritesEvents { warn(filter: i, hook: .onEvent, answer: .modified) }
                case .prepend(let events):
                    if rewritesEvents { added += events } else { warn(filter: i, hook: .onEvent, answer: .prepend) }
                case .drop:
                    if rewritesEvents { dropped = true } else { warn(filter: i, hook: .onEvent, answer: .drop) }
                case .fail(let error):
                    decidedBy = names[i]
                    failNow(error)
                    return decision
                }
                if dropped { break }
            }
            i -= 1
        }
        if rewritesEvents {
            for extra in added { write(.event(extra)) }
            if !dropped { write(.event(current)) }
        } else {
            write(.event(event))
        }
        return answer
    }

    /// `event(SSEEvent(event: name, data: data))`.
    @discardableResult
    public func event(data: String, name: String? = nil, info: LLMEventInfo? = nil) -> EventDecision {
        event(SSEEvent(event: name, data: data), info: info)
    }

    private var isResponseHeadPhase: Bool {
        if case .responseHead = phase { return true }
        return false
    }

    /// The upstream ended its response properly: the exchange completes, or, for an event stream
    /// of a dialect with a final event that never came, is truncated as the engine truncates it;
    /// one with an error event in it ends as `upstream_error`. While the head is held (a filter
    /// suspended it) nothing happens.
    public func upstreamEnds() {
        guard phase == .streaming else { return }
        if exchange.isEventStream && exchange.tokens.lacksFinalEvent {
            truncate(ProxyError(.upstreamReset, "the upstream ended the stream before its final event", source: .upstream))
            return
        }
        if exchange.isEventStream && exchange.tokens.sawError {
            end(Outcome(kind: .upstreamError, status: exchange.response?.status,
                        error: ProxyError(.upstreamError, "the upstream sent an error event", source: .upstream), decidedBy: decidedBy))
        } else {
            end(Outcome(kind: .completed, status: exchange.response?.status, decidedBy: decidedBy))
        }
    }

    // MARK: - The client

    /// The client fell behind: its backlog is now `backlog` (past the high watermark by default),
    /// upstream reads pause (`counters.clientPauses` counts it) and `onClientBlocked` runs in
    /// reverse order.
    public func clientBlocks(backlog: Int? = nil) {
        guard phase != .ended, clientPausedAt == nil else { return }
        clientBacklog = backlog ?? exchange.clientHighWatermark + 1
        clientPausedAt = clock.now()
        exchange.counters.clientPauses += 1
        var i = filters.count - 1
        while i >= 0 {
            if filters[i].hooks.contains(.onClientBlocked), run(i, { filters[i].onClientBlocked(exchange) }).interrupted { return }
            i -= 1
        }
    }

    /// The client caught up: its backlog falls to the low watermark, the pause counts in
    /// `counters.clientPausedTime`, and `onClientDrained` runs in reverse order.
    public func clientDrains() {
        guard phase != .ended, let pausedAt = clientPausedAt else { return }
        clientBacklog = exchange.clientLowWatermark
        clientPausedAt = nil
        exchange.counters.clientPausedTime += clock.now().since(pausedAt)
        var i = filters.count - 1
        while i >= 0 {
            if filters[i].hooks.contains(.onClientDrained), run(i, { filters[i].onClientDrained(exchange) }).interrupted { return }
            i -= 1
        }
    }

    /// The client went away. Mid-stream, the filters that `keepsUpstreamWhenClientLeaves` are
    /// asked `onClientLeft` in reverse order; a `.keepUpstream` keeps the exchange going without a
    /// client (`keptUpstream`). Otherwise it ends as `client_gone`.
    public func clientLeaves() {
        guard phase != .ended else { return }
        if phase == .streaming, !servesOwnStream {
            var keep = false
            var i = filters.count - 1
            while i >= 0 {
                if filters[i].keepsUpstreamWhenClientLeaves {
                    let (answer, interrupted) = run(i) { filters[i].onClientLeft(exchange) }
                    if interrupted || phase == .ended { return }
                    if answer == .keepUpstream { keep = true }
                }
                i -= 1
            }
            if keep {
                keptUpstream = true
                return
            }
        }
        end(Outcome(kind: .clientGone, status: exchange.headSent ? exchange.response?.status : nil,
                    error: ProxyError(.clientClosed, "the client closed the connection", source: .client), decidedBy: decidedBy))
    }

    // MARK: - Endings

    /// Ends the exchange with `outcome`, whatever phase it is in: timers are cancelled (their
    /// bodies dropped), `timings.end` is set, and every filter's `onComplete` runs in reverse order.
    /// Nothing happens once it ended.
    public func end(_ outcome: Outcome) {
        guard phase != .ended else { return }
        phase = .ended
        isSuspended = false
        timers.cancelAll()
        exchange.timings.end = clock.now()
        if let pausedAt = clientPausedAt {
            exchange.counters.clientPausedTime += clock.now().since(pausedAt)
            clientPausedAt = nil
        }
        self.outcome = outcome
        var i = filters.count - 1
        while i >= 0 {
            if filters[i].hooks.contains(.onComplete) { filters[i].onComplete(exchange, outcome) }
            i -= 1
        }
        exchange.releaseFilterStates()
    }

    private func truncate(_ error: ProxyError) {
        guard phase != .ended else { return }
        write(.error(error))
        end(Outcome(kind: .truncated, status: exchange.response?.status, error: error, decidedBy: decidedBy))
    }

    private func respondWithError(_ error: ProxyError, kind: Outcome.Kind) {
        guard phase != .ended else { return }
        if exchange.headSent {
            truncate(error)
            return
        }
        exchange.headSent = true
        written.append(.error(error))
        end(Outcome(kind: kind, status: error.status, error: error, decidedBy: decidedBy))
    }

    private func respondWithReply(_ head: HTTPResponseHead, body: [UInt8]) {
        guard phase != .ended else { return }
        var head = head
        for (name, value) in exchange.responseHeaders { head.headers.set(name, value) }
        head.headers.set("x-request-id", exchange.id)
        head.headers.set("content-length", String(body.count))
        exchange.headSent = true
        written.append(.head(head))
        written.append(.bytes(body))
        end(Outcome(kind: .rejected, status: head.status, decidedBy: decidedBy))
    }

    /// Body writes wait while the head is held, as the engine keeps them.
    private func write(_ item: ClientWrite) {
        if phase == .streaming { written.append(item) } else { heldWrites.append(item) }
    }

    private func warn(filter: Int, hook: UnhonouredAnswers.Hook, answer: UnhonouredAnswers.Answer) {
        let message = UnhonouredAnswers.message(filter: names[filter], chain: exchange.route.chain, hook: hook, answer: answer)
        if !warnings.contains(message) { warnings.append(message) }
    }

    // MARK: - Running hooks

    /// Runs a hook that answers a `Decision`, then applies what it asked of the exchange while it
    /// ran: nil when that was a fail (the walk stops); the resumed answer when it suspended and
    /// resumed itself before returning.
    private func ask(_ filter: Int, _ call: () -> Decision) -> Decision? {
        let decision = enterAndCall(filter, call)
        guard depth == 0, let request = held else { return decision }
        held = nil
        switch request {
        case .fail(let error):
            failNow(error)
            return nil
        case .resume(let resumed):
            if case .suspend = decision { return resumed }
            return decision
        }
    }

    /// Runs any other hook or a timer's body, then applies what it asked for. `interrupted`: that
    /// moved the exchange on, and what the caller was doing stops.
    private func run<T>(_ filter: Int, _ call: () -> T) -> (answer: T, interrupted: Bool) {
        let answer = enterAndCall(filter, call)
        guard depth == 0, let request = held else { return (answer, false) }
        held = nil
        switch request {
        case .fail(let error):
            failNow(error)
            return (answer, true)
        case .resume(let decision):
            return (answer, resumeNow(decision))
        }
    }

    /// Calls a hook of `filter` with it marked as running: what it asks of the exchange now is
    /// held until the outermost hook returns, and a timer it schedules is its own.
    private func enterAndCall<T>(_ filter: Int, _ call: () -> T) -> T {
        let outer = running
        running = filter
        depth += 1
        defer {
            depth -= 1
            running = outer
        }
        return call()
    }

    /// Continues a suspended walk as if its hook had answered `decision` now. False when the
    /// exchange was not suspended.
    @discardableResult
    private func resumeNow(_ decision: Decision) -> Bool {
        guard isSuspended, phase != .ended else { return false }
        isSuspended = false
        switch phase {
        case .request(let i):
            if proceed(decision, filter: i) { _ = runRequestFilters(from: i + 1) }
        case .requestBody(let i):
            if proceed(decision, filter: i) { _ = runBodyFilters(from: i + 1) }
        case .selecting(let i):
            if proceed(decision, filter: i) { _ = continueSelecting(from: i + 1) }
        case .upstreamError(let i):
            switch decision {
            case .retry(let delay): retry(after: delay)
            case .reject(let error): pendingUpstreamError = error; _ = runUpstreamErrorFilters(from: i - 1)
            case .reply(let head, let body): respondWithReply(head, body: body)
            case .next: _ = runUpstreamErrorFilters(from: i - 1)
            case .suspend: isSuspended = true
            }
        case .responseHead(let i):
            switch decision {
            case .next: _ = runResponseHeadFilters(from: i - 1)
            case .retry(let delay):
                pendingUpstreamError = ProxyError(.upstreamError, "upstream response was retried", source: .upstream)
                retry(after: delay)
            case .reject(let error): respondWithError(error, kind: .failed)
            case .reply(let head, let body): respondWithReply(head, body: body)
            case .suspend: isSuspended = true
            }
        default:
            break
        }
        return true
    }

    /// The rest of a `selectUpstream` walk after a resume, with the candidates offered afresh (the
    /// engine keeps the list the earlier hooks left; tests of a resumed selection rarely need it).
    private func continueSelecting(from start: Int) -> Decision {
        var offered = candidates
        var i = start
        while i < filters.count {
            phase = .selecting(i)
            // As the engine does: a hook the filter does not list in `hooks` is not called.
            if !filters[i].hooks.contains(.selectUpstream) {
                i += 1
                continue
            }
            guard let decision = ask(i, { filters[i].selectUpstream(exchange, &offered) }) else { return failedAnswer }
            guard proceed(decision, filter: i) else { return decision }
            i += 1
        }
        guard let chosen = offered.first else {
            respondWithError(ProxyError(.noUpstream, "no upstream endpoint is available for 'fake'", retryAfterSeconds: 1),
                             kind: .failed)
            return failedAnswer
        }
        exchange.endpoint = chosen
        exchange.triedEndpoints.append(chosen.id)
        phase = .connecting
        return .next
    }

    /// Ends the exchange (or, before anything reached the client, the attempt) with `error`, as
    /// the engine does.
    private func failNow(_ error: ProxyError) {
        switch phase {
        case .ended:
            return
        case .connecting, .waitingForHead:
            _ = attemptFailed(error)
        case .responseHead:
            isSuspended = false
            _ = attemptFailed(error)
        default:
            if exchange.headSent { truncate(error) } else { respondWithError(error, kind: .failed) }
        }
    }
}

// MARK: - What the filters ask of the exchange

extension EmbeddedExchange: ExchangeDriver {
    package func resume(_ decision: Decision) {
        resumes.append(decision)
        if depth > 0 {
            if case .fail = held { return }
            held = .resume(decision)
        } else {
            resumeNow(decision)
        }
    }

    package func fail(_ error: ProxyError) {
        guard phase != .ended else { return }
        failures.append(error)
        if decidedBy == nil {
            if case .filter(let name) = error.source, names.contains(name) {
                decidedBy = name
            } else if let running {
                decidedBy = names[running]
            }
        }
        if depth > 0 {
            if case .fail = held { return }
            held = .fail(error)
        } else {
            failNow(error)
        }
    }

    package func schedule(after delay: Duration, _ body: @escaping () -> Void) -> ExchangeTimer {
        guard phase != .ended else { return ExchangeTimer(cancel: {}) }
        let entry = timers.schedule(after: delay, owner: running, body)
        return ExchangeTimer(
            cancel: { [weak entry] in entry?.due = nil },
            reschedule: { [weak self, weak entry] delay in
                guard let self, let entry, self.phase != .ended else { return }
                self.timers.arm(entry, after: delay)
            })
    }

    package func runOnLoop(_ body: @escaping @Sendable () -> Void) {
        loopWork.queued.withLock { $0.append(body) }
    }

    package func sendComment(_ text: String) {
        guard phase != .ended else { return }
        if !exchange.headSent {
            var head = HTTPResponseHead(status: 200)
            head.headers.set("content-type", "text/event-stream")
            head.headers.set("cache-control", "no-cache")
            for (name, value) in exchange.responseHeaders { head.headers.set(name, value) }
            head.headers.set("x-request-id", exchange.id)
            written.append(.head(head))
            exchange.headSent = true
            exchange.timings.firstByteToClient = clock.now()
        }
        written.append(.comment(text))
    }

    package var attemptInFlight: Bool {
        switch phase {
        case .connecting, .waitingForHead, .responseHead, .streaming: return true
        case .request, .requestBody, .admitted, .selecting, .upstreamError, .retryWait, .ended: return false
        }
    }

    package func beginOwnStream(_ head: HTTPResponseHead) -> Bool {
        guard isSuspended, !exchange.headSent else { return false }
        let filter: Int
        switch phase {
        case .request(let i), .requestBody(let i): filter = i
        default: return false
        }
        isSuspended = false
        servesOwnStream = true
        decidedBy = names[filter]
        var head = head
        head.headers.remove("content-length")
        for (name, value) in exchange.responseHeaders { head.headers.set(name, value) }
        head.headers.set("x-request-id", exchange.id)
        exchange.response = head
        exchange.headSent = true
        exchange.isEventStream = head.headers["content-type"]?.lowercased().hasPrefix("text/event-stream") == true
        exchange.timings.firstByteToClient = clock.now()
        phase = .streaming
        written.append(.head(head))
        return true
    }

    package func writeOwnStream(_ bytes: [UInt8]) {
        guard servesOwnStream, phase == .streaming, !bytes.isEmpty else { return }
        written.append(.bytes(bytes))
    }

    package func endOwnStream() {
        guard servesOwnStream, phase == .streaming else { return }
        end(Outcome(kind: .completed, status: exchange.response?.status, decidedBy: decidedBy))
    }
}

/// An embedded exchange's loop: work sent to it waits until the test runs it.
private final class LoopWork: ExchangeLoop, Sendable {
    let queued = Mutex<[@Sendable () -> Void]>([])

    func execute(_ body: @escaping @Sendable () -> Void) {
        queued.withLock { $0.append(body) }
    }
}
