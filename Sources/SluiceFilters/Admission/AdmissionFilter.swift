import SluiceFilterAPI
import Synchronization

/// The `admission` filter: lets a request through while the proxy has room for another stream,
/// makes it wait in a bounded, fair queue while it has not, and sheds load when a worker is
/// overloaded.
///
/// ```yaml
/// - filter: admission
///   config:
///     max_active_streams: 64
///     max_tokens_per_second: 5000
///     max_loop_lag: 250ms
///     queue: { max_length: 200, max_wait: 20s, max_per_client: 25%, position_comments: 5s }
///     key: { header: x-api-key }
/// ```
///
/// | key | default | meaning |
/// |---|---|---|
/// | `max_active_streams` | none | exchanges admitted and not yet ended, over every worker (streamed or not) |
/// | `max_events_per_second` | none | budget: content events per second of the live streams together (moving average) |
/// | `max_tokens_per_second` | none | the same budget in tokens (content events, corrected by `usage` when reported); not with `max_events_per_second` |
/// | `max_loop_lag` | none | a duration: when the request's worker loop runs this late, 503 `overloaded` at once, before queueing |
/// | `queue.max_length` | 100 | requests waiting in all; 0 refuses at once instead of queueing |
/// | `queue.max_wait` | 30s | longest wait; past it, 503 `queue_timeout` with `Retry-After` |
/// | `queue.max_per_client` | 50% | one key's share of the queue: a count (`5`) or a share of `max_length` (`25%`) |
/// | `queue.priority_header` | x-priority | request header giving the class: `high`, `normal`, `low` (missing or other: `normal`) |
/// | `queue.position_comments` | off | a duration, or `off`: how often a waiting SSE client gets `: queued: position N` |
/// | `key` | ip | who a request belongs to, for fairness (see `ClientKey`) |
/// | `retry_after` | 1 | seconds in `Retry-After` on every 503 this filter gives |
///
/// At least one of `max_active_streams`, a budget and `max_loop_lag` must be set.
///
/// Admission: a request is admitted at once when nobody is waiting, fewer than
/// `max_active_streams` are active, and the budget has room for one more stream of the current
/// mean rate (with no stream active, one is always admitted). Otherwise it waits in the queue:
/// high before normal before low; within a class, keys take turns round-robin; a key over its
/// share, or a full queue, gets 503 `overloaded` at once. A slot frees when an admitted exchange
/// ends, however it ends, on any worker; the next waiting request is then woken on its own worker.
/// A waiting client that disconnects leaves the queue at once.
///
/// The budget is measured, not declared: `ThroughputEstimator` averages the content events of the
/// admitted streams (`onEvent`, observe only). Streams with no events yet count at the mean rate of
/// the others; responses that are not event streams count only toward `max_active_streams`. Until
/// some admitted stream has produced events there is no mean, and the budget admits freely: set
/// `max_active_streams` too to bound that burst.
///
/// Position comments commit a 200 `text/event-stream` head, so they go only to requests that
/// announce an event stream with `Accept: text/event-stream` (the body is not read: that would
/// make the chain buffer every request body). The first comment goes out when the request is
/// queued. After that, a queue timeout reaches the client as an SSE error event
/// (`queue_timeout`) instead of a 503, and only a 200 upstream response can follow.
///
/// Shared state: one mutex-guarded state per instance serves every worker; on reload the new
/// instance adopts the old one's state, so exchanges admitted or queued before the reload are
/// counted exactly, and the new limits apply from the new instance's first request.
/// `max_loop_lag` judges the worker a request arrives on, when it arrives.
///
/// **Across instances** (`shared: true`, with a `shared_state:` section): `max_active_streams`
/// counts the streams of every instance, through stream leases in Redis (`StreamLeases`, as
/// `connection_manager` uses them). A request first takes a global slot (one script run), then goes
/// through this instance's admission as above. While every global slot is taken it waits, asking
/// Redis again every 100 ms, until `queue.max_wait` (then 503 `queue_timeout`); the queue with its
/// priorities and fairness stays local to each instance and orders only the requests that hold a
/// global slot. The budget and `max_loop_lag` stay per instance. When Redis gives no answer within
/// `shared_state.timeout`, `on_failure` decides: `local` goes on with this instance's own count,
/// `open` admits, `closed` answers 503.
///
/// **Batch mode** (`shared: { batch: N, hold: D }`, see `SharedBatch`): the global slots come from a
/// block this instance leases (`StreamBlocks`), so a request that finds a free slot in it takes it
/// with no round trip; only a full block waits for a grow script (and, while all slots are taken,
/// polls as above, first looking for a slot freed locally).
public final class AdmissionFilter: SharedLimitFilter, StatefulFilter {
    /// The hooks below that do something; the engine skips the rest.
    public var hooks: FilterHooks { [.onRequest, .onComplete] }

    /// What the throughput budget counts.
    public enum BudgetUnit: String, Sendable, CaseIterable {
        case events, tokens
    }

    /// The limits every instance sharing one state applies; the newest instance's win.
    struct Limits: Sendable, Equatable {
        var maxActiveStreams: Int?
        var budget: Double?
        var unit: BudgetUnit
        var queue: AdmissionQueue<Waiter>.Limits
    }

    /// What the queue keeps to wake a waiting exchange.
    struct Waiter: Sendable {
        let exchange: Exchange
        /// The answer when it waits too long.
        let timeout: ProxyError
    }

    /// Per-exchange state, made when the request is admitted or queued (`existingState` is nil
    /// for a request this instance refused or never saw). Loop thread only; the shared state
    /// decides whether the ticket waits or holds a slot.
    public final class Local {
        var ticket: UInt64 = 0
        /// Tokens counted so far for the budget (tokens mode).
        var counted = 0
        /// Units not yet handed to the estimator.
        var unflushed = 0.0
        var lastFlush: MonotonicInstant?
        var commentTimer: ExchangeTimer?
        var recheckTimer: ExchangeTimer?
    }

    public typealias ExchangeState = Local
    public let stateSlot = ExchangeStateSlot()
    public func makeState(for exchange: Exchange) -> Local { Local() }

    /// Units are handed to the shared estimator at most this often per stream, so the mutex is not
    /// taken for every event; the average spans a second, so the batching does not show.
    static let flushInterval: Duration = .milliseconds(50)
    /// While a budget is set, each waiting request checks this often whether the budget has room:
    /// the estimate also falls without any exchange ending (streams going quiet).
    static let recheckInterval: Duration = .milliseconds(250)

    let name: String
    let limits: Limits
    let maxLoopLag: Duration?
    let priorityHeader: String
    let positionInterval: Duration?
    let key: ClientKey
    let retryAfter: Int
    /// The answer to a request that waited `limits.queue.maxWait`: made once, since every request
    /// carries it into the queue and its message took a few thousand instructions to format.
    private let timeoutError: ProxyError
    /// 1 for a first load, one more per reload that adopted a previous instance.
    let generation: Int
    let state: AdmissionState
    private let clock: any SluiceClock
    private let loopLag: @Sendable (Exchange) -> Duration
    /// With `shared: true`: the global slots of `max_active_streams`.
    private let globalSlots: StreamLeases?
    /// With `shared: { batch: N }`: the block of global slots this instance holds.
    private let globalBlocks: StreamBlocks?
    /// How often a request waiting for a global slot asks Redis again.
    static let globalPollInterval: Duration = .milliseconds(100)

    /// An exchange's global slot (`shared: true`). Loop thread only.
    final class GlobalSlot {
        let id: String
        /// Decided: holding a lease, or let through by `on_failure`.
        var settled = false
        var held = false
        var awaiting = false
        var abandoned = false
        /// The answer to the last ask, kept for `onRequest` when the engine fetched it ahead.
        var answer: Result<(ConnectionSlots.Admission, Int), SharedStoreFailure>?
        /// Batch mode: the grow asked for, until its answer is taken in.
        var grow: StreamBlocks.Grow?
        var renewal: ExchangeTimer?
        var poll: ExchangeTimer?
        init(id: String) { self.id = id }
    }

    public var wantsEvents: Bool { limits.budget != nil }
    /// Reads only what the classifier made of each event.
    public var eventAccess: EventAccess { wantsEvents ? .info : .none }

    /// Builds the filter from `setup.config`, reading the worker's loop lag from `exchange.workerLoopLag`.
    public convenience init(_ setup: FilterSetup) {
        self.init(setup, loopLag: { $0.workerLoopLag })
    }

    /// Builds the filter with `loopLag` as the lag reading (tests inject one).
    public init(_ setup: FilterSetup, loopLag: @escaping @Sendable (Exchange) -> Duration) {
        let config = setup.config
        name = setup.name
        clock = setup.clock
        self.loopLag = loopLag

        let maxActive = config.int("max_active_streams", in: 1...10_000_000)
        let events = config.double("max_events_per_second", in: 0.001...1e12)
        let tokens = config.double("max_tokens_per_second", in: 0.001...1e12)
        if events != nil && tokens != nil {
            config.error("set max_events_per_second or max_tokens_per_second, not both", atValueOf: "max_tokens_per_second")
        }
        maxLoopLag = config.duration("max_loop_lag", in: .milliseconds(1)...(.seconds(60)))

        let queue = config.map("queue")
        let maxLength = queue?.int("max_length", in: 0...10_000_000) ?? 100
        let maxWait = queue?.duration("max_wait", in: .milliseconds(1)...(.seconds(3600))) ?? .seconds(30)
        let maxPerKey = Self.decodeShare(queue, key: "max_per_client", maxLength: maxLength) ?? max(1, maxLength / 2)
        let header = queue?.string("priority_header") ?? "x-priority"
        if header.isEmpty || header.contains(where: { $0 == " " || $0 == ":" }) {
            queue?.error("'priority_header' must be a header name, got '\(header)'", atValueOf: "priority_header")
        }
        priorityHeader = header.lowercased()
        positionInterval = Self.decodePositionComments(queue)
        queue?.finish()

        key = ClientKey.decode(config, default: .clientIP)
        retryAfter = config.int("retry_after", default: 1, in: 0...86_400)
        if maxActive == nil && events == nil && tokens == nil && maxLoopLag == nil {
            config.error("admission needs at least one of max_active_streams, max_events_per_second, "
                         + "max_tokens_per_second or max_loop_lag", atValueOf: "max_active_streams")
        }

        let (store, batch) = SharedLimit.setting(config, setup, limit: maxActive.map { ("max_active_streams", $0) })
        if store != nil, maxActive == nil {
            config.error("'shared: true' shares max_active_streams, which is not set", atValueOf: "shared")
        }
        if let store, let batch, let maxActive {
            globalSlots = nil
            globalBlocks = StreamBlocks.adopting((setup.previous as? AdmissionFilter)?.globalBlocks, store: store,
                                                 base: SharedLimit.keyBase(store, kind: "adm", setup: setup), batch: batch,
                                                 limits: .init(global: maxActive), clock: setup.clock)
        } else {
            globalSlots = store.map { StreamLeases(store: $0, base: SharedLimit.keyBase($0, kind: "adm", setup: setup)) }
            globalBlocks = nil
        }
        limits = Limits(maxActiveStreams: maxActive, budget: events ?? tokens, unit: tokens != nil ? .tokens : .events,
                        queue: .init(maxLength: maxLength, maxPerKey: maxPerKey, maxWait: maxWait))
        timeoutError = ProxyError(.queueTimeout, "the request waited \(ConfigParse.durationText(maxWait)) in the admission queue",
                                  source: .filter(setup.name), retryAfterSeconds: retryAfter)
        if let previous = setup.previous as? AdmissionFilter {
            state = previous.state
            generation = previous.generation + 1
        } else {
            state = AdmissionState(limits: limits, metrics: AdmissionMetrics(setup))
            generation = 1
        }
    }

    // MARK: - Reading

    /// Requests waiting now, over every worker (and every instance sharing this one's state).
    public var queueLength: Int { state.core.withLock { $0.queue.count } }

    /// Exchanges admitted and not yet ended.
    public var activeStreams: Int { state.core.withLock { $0.active } }

    /// The live streams' estimated units per second now.
    public var estimatedRate: Double {
        let now = clock.now()
        return state.core.withLock { $0.estimator.rate(at: now) }
    }

    // MARK: - Hooks

    public func onRequest(_ exchange: Exchange) -> Decision {
        if let shed = loopLagRefusal(exchange) { return shed }
        if let globalSlots, let maxActive = limits.maxActiveStreams {
            let slot = exchange.untypedLocal(for: globalSlots) { GlobalSlot(id: globalSlots.newID()) }
            let deadline = clock.now() + limits.queue.maxWait
            if let answer = slot.answer {
                // Fetched ahead by the engine (`SharedLimitFilter`).
                slot.answer = nil
                return settleGlobalSlot(answer, exchange, slot, globalSlots.store, until: deadline) { [self] in
                    takeGlobalSlot(exchange, slot, globalSlots, max: maxActive, until: deadline)
                }
            }
            if !slot.settled {
                takeGlobalSlot(exchange, slot, globalSlots, max: maxActive, until: deadline)
                return .suspend
            }
        }
        if let globalBlocks {
            let slot = exchange.untypedLocal(for: globalBlocks) { GlobalSlot(id: "") }
            let deadline = clock.now() + limits.queue.maxWait
            if let answer = slot.answer {
                slot.answer = nil
                return settleGlobalSlot(answer, exchange, slot, globalBlocks.store, until: deadline) { [self] in
                    takeBlockSlot(exchange, slot, globalBlocks, until: deadline)
                }
            }
            if !slot.settled {
                if takeBlockSlotLocally(exchange, slot, globalBlocks) { return admitLocally(exchange) }
                takeBlockSlot(exchange, slot, globalBlocks, until: deadline, tryingLocally: false)
                return .suspend
            }
        }
        return admitLocally(exchange)
    }

    /// Batch mode: takes a free slot of this instance's block, without a round trip.
    private func takeBlockSlotLocally(_ exchange: Exchange, _ slot: GlobalSlot, _ blocks: StreamBlocks) -> Bool {
        guard blocks.acquire("all", worker: exchange.worker) else { return false }
        blocks.store.decided(locally: true)
        slot.settled = true
        slot.held = true
        return true
    }

    /// Batch mode: a free slot of the block if one came free meanwhile (`tryingLocally`: only
    /// while the exchange is suspended, since it resumes it), else a grow of the block; then as
    /// `takeGlobalSlot`.
    private func takeBlockSlot(_ exchange: Exchange, _ slot: GlobalSlot, _ blocks: StreamBlocks, until deadline: MonotonicInstant,
                               tryingLocally: Bool = true) {
        if tryingLocally, takeBlockSlotLocally(exchange, slot, blocks) {
            exchange.resume(admitLocally(exchange))
            return
        }
        let grow = blocks.streamGrow("all")
        slot.awaiting = true
        slot.grow = grow
        blocks.store.run(blocks.growCall(grow), worker: exchange.worker) { [self] answer in
            sharedCallAnswered(exchange, answer)
            guard let result = slot.answer else { return }
            slot.answer = nil
            exchange.resume(settleGlobalSlot(result, exchange, slot, blocks.store, until: deadline) { [self] in
                takeBlockSlot(exchange, slot, blocks, until: deadline)
            })
        }
    }

    /// The 503 of `max_loop_lag` while the exchange's loop runs later than it; nil otherwise.
    private func loopLagRefusal(_ exchange: Exchange) -> Decision? {
        guard let maxLoopLag else { return nil }
        let lag = loopLag(exchange)
        guard lag > maxLoopLag else { return nil }
        let milliseconds = lag.nanosecondsClamped / 1_000_000
        state.metrics.shed(.loopLag)
        return .reject(overloaded("the proxy is overloaded: its event loop runs \(milliseconds) ms late"))
    }

    /// With `shared: true` and `max_active_streams`, the global slot this exchange asks for. Loop
    /// thread (see `SharedLimitFilter`).
    public func sharedCall(for exchange: Exchange) -> SharedCall? {
        if let globalBlocks {
            if let maxLoopLag, loopLag(exchange) > maxLoopLag { return nil }
            let slot = exchange.untypedLocal(for: globalBlocks) { GlobalSlot(id: "") }
            guard !slot.settled, !slot.awaiting, !globalBlocks.canAcquire("all") else { return nil }
            let grow = globalBlocks.streamGrow("all")
            slot.awaiting = true
            slot.grow = grow
            return globalBlocks.growCall(grow)
        }
        guard let globalSlots, let maxActive = limits.maxActiveStreams else { return nil }
        if let maxLoopLag, loopLag(exchange) > maxLoopLag { return nil }
        let slot = exchange.untypedLocal(for: globalSlots) { GlobalSlot(id: globalSlots.newID()) }
        guard !slot.settled, !slot.awaiting else { return nil }
        slot.awaiting = true
        return globalSlots.acquireCall(slot.id, client: "all", limits: .init(global: maxActive))
    }

    /// Keeps the answer for `onRequest`; a granted slot is held from here, so `onComplete` gives it
    /// back however the exchange ends, or is given back at once when it already ended.
    public func sharedCallAnswered(_ exchange: Exchange, _ answer: SharedStoreAnswer?) {
        if let globalBlocks, let slot = exchange.existingUntypedLocal(for: globalBlocks, as: GlobalSlot.self), let grow = slot.grow {
            slot.awaiting = false
            slot.grow = nil
            guard let result = globalBlocks.grown(grow, answer, worker: exchange.worker) else { return }
            let granted = if case .success((.admitted, _)) = result { true } else { false }
            if slot.abandoned {
                if granted { globalBlocks.release("all") }
                return
            }
            if granted { slot.held = true }
            slot.answer = result
            return
        }
        guard let globalSlots, let slot = exchange.existingUntypedLocal(for: globalSlots, as: GlobalSlot.self) else { return }
        slot.awaiting = false
        guard let answer else { return }
        let result = StreamLeases.acquired(answer)
        let granted = if case .success((.admitted, _)) = result { true } else { false }
        if slot.abandoned {
            if granted { globalSlots.release(slot.id, client: "all", worker: exchange.worker) }
            return
        }
        if granted { slot.held = true }
        slot.answer = result
    }

    /// Asks Redis for a global slot; once held (or `on_failure` let the request through), goes on
    /// with this instance's admission. While all are taken, asks again every `globalPollInterval`
    /// until `deadline`.
    private func takeGlobalSlot(_ exchange: Exchange, _ slot: GlobalSlot, _ leases: StreamLeases, max: Int,
                                until deadline: MonotonicInstant) {
        slot.awaiting = true
        leases.store.run(leases.acquireCall(slot.id, client: "all", limits: .init(global: max)), worker: exchange.worker) { [self] answer in
            sharedCallAnswered(exchange, answer)
            guard let result = slot.answer else { return }
            slot.answer = nil
            exchange.resume(settleGlobalSlot(result, exchange, slot, leases.store, until: deadline) { [self] in
                takeGlobalSlot(exchange, slot, leases, max: max, until: deadline)
            })
        }
    }

    /// What an answer about the global slot means for the request: go on to this instance's own
    /// admission, wait and ask again (`.suspend`), or the refusal.
    /// `askAgain` asks again (after `globalPollInterval`, while all are taken).
    private func settleGlobalSlot(_ result: Result<(ConnectionSlots.Admission, Int), SharedStoreFailure>, _ exchange: Exchange,
                                  _ slot: GlobalSlot, _ store: any SharedStore, until deadline: MonotonicInstant,
                                  askAgain: @escaping () -> Void) -> Decision {
        store.decided(locally: false)
        switch result {
        case .success((.admitted, _)):
            slot.settled = true
            // A block's slot is renewed with its block.
            if let globalSlots { renewGlobalSlot(exchange, slot, globalSlots) }
            return admitLocally(exchange)
        case .success:
            guard clock.now() < deadline else {
                state.metrics.shed(.queueTimeout)
                return .reject(timeoutError)
            }
            slot.poll = exchange.schedule(after: Self.globalPollInterval, askAgain)
            return .suspend
        case .failure(let failure):
            store.policyApplied(store.failurePolicy)
            slot.settled = true
            switch store.failurePolicy {
            case .local: return admitLocally(exchange)
            case .open: return .next
            case .closed: return .reject(SharedLimit.unavailable(filter: name, failure))
            }
        }
    }

    /// Renews the exchange's global slot every third of the lease TTL while it holds it.
    private func renewGlobalSlot(_ exchange: Exchange, _ slot: GlobalSlot, _ leases: StreamLeases) {
        slot.renewal = exchange.schedule(after: leases.renewEvery) { [weak self, weak exchange, weak slot] in
            guard let self, let exchange, let slot, slot.held else { return }
            leases.renew(slot.id, client: "all", worker: exchange.worker)
            self.renewGlobalSlot(exchange, slot, leases)
        }
    }

    /// This instance's own admission: at once, queued, or refused.
    private func admitLocally(_ exchange: Exchange) -> Decision {
        let clientKey = key.key(for: exchange)
        // The priority and the waiter matter only to a request that queues: made then, not for
        // every request that passes at once.
        let (ticket, arrival, wakeups) = state.withCore { core in
            core.adopt(limits, generation: generation)
            return core.arrive(key: clientKey, priority: AdmissionPriority(headerValue: exchange.request.headers[priorityHeader]),
                               waiter: Waiter(exchange: exchange, timeout: timeoutError), now: clock.now())
        }
        state.deliver(wakeups)
        switch arrival {
        case .admitted:
            state.metrics.admitted.increment()
            exchange.state(for: self).ticket = ticket
            return .next
        case .refused(.full):
            state.metrics.shed(.queueFull)
            // With no queue at all (max_length: 0), "full" would read as a passing state.
            return .reject(overloaded(limits.queue.maxLength == 0
                ? "the proxy is at capacity and does not queue requests (queue.max_length is 0)"
                : "the admission queue is full"))
        case .refused(.keyShareFull):
            state.metrics.shed(.clientShare)
            return .reject(overloaded("this client has \(limits.queue.maxPerKey) requests waiting already"))
        case .queued:
            state.metrics.queued.increment()
            let local = exchange.state(for: self)
            local.ticket = ticket
            startWaiting(exchange, local)
            return .suspend
        }
    }

    public func onEvent(_ exchange: Exchange, _ event: inout SSEEvent, _ info: LLMEventInfo) -> EventDecision {
        guard limits.budget != nil, let local = exchange.existingState(for: self) else { return .pass }
        var units = 0.0
        if info.kind == .content {
            units = 1
            local.counted += 1
        }
        if limits.unit == .tokens, let reported = info.usage?.completionTokens, reported > local.counted {
            // The upstream's count is better than one per event; add what the events missed.
            units += Double(reported - local.counted)
            local.counted = reported
        }
        guard units > 0 else { return .pass }
        local.unflushed += units
        let now = clock.now()
        if let last = local.lastFlush, now.since(last) < Self.flushInterval { return .pass }
        local.lastFlush = now
        let flushed = local.unflushed
        local.unflushed = 0
        let wakeups = state.withCore { core in
            let now = clock.now()
            core.estimator.record(local.ticket, units: flushed, at: now)
            return core.queue.isEmpty ? Wakeups() : core.dispatch(now: now)
        }
        state.deliver(wakeups)
        return .pass
    }

    public func onComplete(_ exchange: Exchange, _ outcome: Outcome) {
        if let globalBlocks, let slot = exchange.existingUntypedLocal(for: globalBlocks, as: GlobalSlot.self) {
            if slot.awaiting { slot.abandoned = true }
            slot.poll?.cancel()
            if slot.held {
                slot.held = false
                globalBlocks.release("all")
            }
        }
        if let globalSlots, let slot = exchange.existingUntypedLocal(for: globalSlots, as: GlobalSlot.self) {
            if slot.awaiting { slot.abandoned = true }
            slot.poll?.cancel()
            slot.renewal?.cancel()
            if slot.held {
                slot.held = false
                globalSlots.release(slot.id, client: "all", worker: exchange.worker)
            }
        }
        guard let local = exchange.existingState(for: self) else { return }
        local.commentTimer?.cancel()
        local.recheckTimer?.cancel()
        let wakeups = state.withCore { core in
            // Queued: the client left (or a timeout is being answered) — it only leaves the queue.
            if core.queue.remove(local.ticket) != nil { return Wakeups() }
            guard core.release(local.ticket, now: clock.now()) else { return Wakeups() }
            // An empty queue has nobody to admit or expire.
            return core.queue.isEmpty ? Wakeups() : core.dispatch(now: clock.now())
        }
        state.deliver(wakeups)
    }

    // MARK: - Waiting

    private func startWaiting(_ exchange: Exchange, _ local: Local) {
        let ticket = local.ticket
        exchange.schedule(after: limits.queue.maxWait) { [self] in
            // Whoever takes the ticket out of the queue answers it: here, or a dispatch that found it expired.
            let removed = state.withCore { $0.queue.remove(ticket) } != nil
            if removed {
                state.metrics.shed(.queueTimeout)
                exchange.resume(.reject(timeoutError))
            }
        }
        if let interval = positionInterval, Self.acceptsEventStream(exchange) {
            if sendPosition(exchange, ticket) {
                local.commentTimer = exchange.schedule(after: interval) { [self, weak local] in
                    guard let local, sendPosition(exchange, ticket) else { return }
                    local.commentTimer?.reschedule(after: interval)
                }
            }
        }
        if limits.budget != nil {
            local.recheckTimer = exchange.schedule(after: Self.recheckInterval) { [self, weak local] in
                guard let local else { return }
                let (waiting, wakeups) = state.withCore { core -> (Bool, Wakeups) in
                    guard core.queue.contains(ticket) else { return (false, Wakeups()) }
                    return (true, core.dispatch(now: clock.now()))
                }
                state.deliver(wakeups)
                if waiting { local.recheckTimer?.reschedule(after: Self.recheckInterval) }
            }
        }
    }

    /// Sends `queued: position N` while the ticket waits; false once it does not.
    private func sendPosition(_ exchange: Exchange, _ ticket: UInt64) -> Bool {
        guard let position = state.core.withLock({ $0.queue.position(of: ticket) }) else { return false }
        exchange.sendComment("queued: position \(position)")
        return true
    }

    /// True when some `Accept` value's media type is `text/event-stream`.
    static func acceptsEventStream(_ exchange: Exchange) -> Bool {
        exchange.request.headers.values("accept").contains { value in
            value.split(separator: ",").contains { item in
                let type = item.split(separator: ";", maxSplits: 1).first ?? ""
                return type.filter { $0 != " " && $0 != "\t" }.lowercased() == "text/event-stream"
            }
        }
    }

    private func overloaded(_ message: String) -> ProxyError {
        ProxyError(.overloaded, message, source: .filter(name), retryAfterSeconds: retryAfter)
    }

    // MARK: - Config

    /// `max_per_client`: a count (`5`) or a share of `max_length` (`25%`, at least one entry).
    private static func decodeShare(_ map: ConfigMap?, key: String, maxLength: Int) -> Int? {
        guard let map, let node = map.node(key), !node.isNull else { return nil }
        if let text = node.scalar {
            if text.hasSuffix("%"), let percent = Double(text.dropLast()), percent > 0, percent <= 100 {
                return max(1, Int((percent / 100 * Double(maxLength)).rounded(.down)))
            }
            if !node.isQuotedScalar, let count = Int(text), count >= 1 {
                return count
            }
        }
        map.diagnostics.error("'\(key)' must be a count such as 5 or a share of max_length such as 25%, got \(node.summary)",
                              at: node.mark)
        return nil
    }

    /// `position_comments`: a duration, or `off`.
    private static func decodePositionComments(_ map: ConfigMap?) -> Duration? {
        guard let map, let node = map.node("position_comments"), !node.isNull else { return nil }
        if let text = node.scalar, !node.isQuotedScalar, text == "off" || text == "false" { return nil }
        return map.duration("position_comments", in: .milliseconds(10)...(.seconds(3600)))
    }
}

/// Wakes exchanges that a dispatch took out of the queue. Built under the lock, delivered after it.
struct Wakeups: Sendable {
    var admitted: [AdmissionFilter.Waiter] = []
    var expired: [AdmissionFilter.Waiter] = []

    func deliver(_ metrics: AdmissionMetrics) {
        if !admitted.isEmpty { metrics.admitted.increment(by: admitted.count) }
        for _ in expired { metrics.shed(.queueTimeout) }
        for waiter in admitted { waiter.exchange.resumeFromAnyThread(.next) }
        for waiter in expired { waiter.exchange.resumeFromAnyThread(.reject(waiter.timeout)) }
    }
}

/// The state one admission filter shares across workers and reloads.
final class AdmissionState: Sendable {
    enum Arrival: Sendable {
        case admitted
        case queued
        case refused(AdmissionQueue<AdmissionFilter.Waiter>.Refusal)
    }

    struct Core {
        var limits: AdmissionFilter.Limits
        /// The generation of the instance whose limits apply.
        var generation = 0
        var queue: AdmissionQueue<AdmissionFilter.Waiter>
        /// Also the tickets holding a slot: a ticket is a live stream of the estimator from `admit`
        /// to `release` (one set kept, not two: each insert and remove hashes the ticket).
        var estimator = ThroughputEstimator()
        /// Tickets holding a slot.
        var active: Int { estimator.liveStreams }
        var nextTicket: UInt64 = 1

        init(limits: AdmissionFilter.Limits) {
            self.limits = limits
            self.queue = AdmissionQueue(limits: limits.queue)
        }

        /// Takes on a newer instance's limits (an older one's never replace them).
        mutating func adopt(_ newer: AdmissionFilter.Limits, generation: Int) {
            guard generation > self.generation else { return }
            self.generation = generation
            limits = newer
            queue.limits = newer.queue
        }

        /// A request arrives: admitted at once when nobody waits and there is room, else queued
        /// (and possibly admitted right away by the dispatch that follows), else refused.
        mutating func arrive(key: String, priority: @autoclosure () -> AdmissionPriority,
                             waiter makeWaiter: @autoclosure () -> AdmissionFilter.Waiter,
                             now: MonotonicInstant) -> (UInt64, Arrival, Wakeups) {
            let ticket = nextTicket
            nextTicket += 1
            if queue.isEmpty && hasRoom(now: now) {
                admit(ticket, now: now)
                return (ticket, .admitted, Wakeups())
            }
            let waiter = makeWaiter()
            if let refusal = queue.enqueue(ticket, key: key, priority: priority(), payload: waiter, now: now) {
                return (ticket, .refused(refusal), Wakeups())
            }
            var wakeups = dispatch(now: now)
            if let mine = wakeups.admitted.firstIndex(where: { $0.exchange === waiter.exchange }) {
                // Not suspended yet: the caller answers `.next` instead of being woken.
                wakeups.admitted.remove(at: mine)
                return (ticket, .admitted, wakeups)
            }
            return (ticket, .queued, wakeups)
        }

        /// Whether one more exchange may start now.
        mutating func hasRoom(now: MonotonicInstant) -> Bool {
            if let max = limits.maxActiveStreams, active >= max { return false }
            if let budget = limits.budget, active > 0 {
                let rate = estimator.rate(at: now)
                let measured = estimator.measuredStreams
                let mean = measured > 0 ? rate / Double(measured) : 0
                // Pending streams count at the mean, and the newcomer must fit at the mean too.
                let projected = rate + Double(estimator.pendingStreams) * mean
                if projected + mean > budget { return false }
            }
            return true
        }

        mutating func admit(_ ticket: UInt64, now: MonotonicInstant) {
            estimator.streamStarted(ticket, at: now)
        }

        /// Frees the ticket's slot; false when it held none.
        mutating func release(_ ticket: UInt64, now: MonotonicInstant) -> Bool {
            estimator.streamEnded(ticket, at: now)
        }

        /// Takes out expired entries, then admits waiting ones while there is room.
        mutating func dispatch(now: MonotonicInstant) -> Wakeups {
            var wakeups = Wakeups()
            wakeups.expired = queue.removeExpired(now: now).map(\.payload)
            while !queue.isEmpty, hasRoom(now: now), let next = queue.popNext() {
                admit(next.ticket, now: now)
                wakeups.admitted.append(next.payload)
            }
            return wakeups
        }
    }

    let core: Mutex<Core>
    /// Made by the first instance; later ones (reloads) report through the same series.
    let metrics: AdmissionMetrics

    init(limits: AdmissionFilter.Limits, metrics: AdmissionMetrics) {
        core = Mutex(Core(limits: limits))
        self.metrics = metrics
    }

    /// Wakes and counts what `wakeups` holds. Usually nothing: then it only looks, without handing
    /// the metrics on (a copy of them retains and releases each of their series).
    func deliver(_ wakeups: Wakeups) {
        guard !wakeups.admitted.isEmpty || !wakeups.expired.isEmpty else { return }
        wakeups.deliver(metrics)
    }

    /// Runs `body` under the lock, then publishes the queue length and the admitted count.
    func withCore<T>(_ body: (inout Core) -> T) -> T {
        core.withLock { core in
            let result = body(&core)
            metrics.queueLength.record(core.queue.count)
            metrics.inFlight.record(core.active)
            return result
        }
    }
}

/// What an admission filter reports on `/metrics`.
struct AdmissionMetrics: Sendable {
    enum ShedReason: String, CaseIterable {
        case queueFull = "queue_full", clientShare = "client_share", queueTimeout = "queue_timeout", loopLag = "loop_lag"
    }

    let admitted: Counter
    let queued: Counter
    let queueLength: Gauge
    let inFlight: Gauge
    private let shedCounters: [String: Counter]

    init(_ setup: FilterSetup) {
        let labels = setup.metricDimensions
        admitted = Counter(label: "sluice_admission_admitted_total", dimensions: labels, factory: setup.metrics)
        queued = Counter(label: "sluice_admission_queued_total", dimensions: labels, factory: setup.metrics)
        queueLength = Gauge(label: "sluice_admission_queue_length", dimensions: labels, factory: setup.metrics)
        inFlight = Gauge(label: "sluice_admission_in_flight", dimensions: labels, factory: setup.metrics)
        var shed: [String: Counter] = [:]
        for reason in ShedReason.allCases {
            shed[reason.rawValue] = Counter(label: "sluice_admission_shed_total", dimensions: labels + [("reason", reason.rawValue)],
                                            factory: setup.metrics)
        }
        shedCounters = shed
    }

    func shed(_ reason: ShedReason) {
        shedCounters[reason.rawValue]?.increment()
    }
}

extension AdmissionFilter: SharedHoldings {
    /// Batch mode: the block's slots go back to Redis when the process stops. Loop thread of `worker`.
    public func giveBack(worker: Int, _ done: @escaping () -> Void) {
        guard let globalBlocks else { return done() }
        globalBlocks.giveBackAll(worker: worker, done)
    }
}

extension AdmissionFilter: ReportsLiveFigures {
    /// For the console: how long the request that has waited longest in the queue has waited,
    /// in milliseconds (0 with an empty queue). Queue length and in-flight are metrics already.
    /// Control thread; one lock, a walk over the queue (bounded by `queue.max_length`).
    public func liveFigures() -> [LiveFigure] {
        let now = clock.now()
        let oldest = state.core.withLock { $0.queue.oldestEnqueued }
        let waited = oldest.map { Double(now.since($0).nanosecondsClamped) / 1e6 } ?? 0
        return [LiveFigure("longest_wait_ms", waited.rounded())]
    }
}
