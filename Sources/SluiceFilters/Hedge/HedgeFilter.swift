import SluiceFilterAPI
import Synchronization

/// `hedge`: when an attempt has produced no content after a while, starts another attempt at the
/// same request on another endpoint of the group, and keeps whichever produces the first content.
///
/// ```yaml
/// - filter: hedge
///   config: { after: p95, after_min: 100ms, after_max: 2s, max_extra: 1 }
/// ```
///
/// | key | default | meaning |
/// |---|---|---|
/// | `after` | `p95` | how long the attempt may go without content before a hedge starts: a duration (1ms…10m), or `p95`, the route's own measured first-token p95 |
/// | `after_min` | `50ms` | with `p95`: the shortest wait, 1ms…10m |
/// | `after_max` | `2s` | with `p95`: the longest wait, and the wait until the route has measured 20 first tokens, 1ms…10m |
/// | `max_extra` | `1` | hedges per attempt, 1…3; each one `after` later than the one before |
/// | `methods` | `[POST]` | request methods that may be hedged |
/// | `paths` | all | path prefixes that may be hedged (e.g. `/v1/chat/completions`) |
/// | `budget_ratio` | `0.1` | hedges in flight stay below this share of the requests in flight that may hedge, 0…1 |
/// | `budget_min` | `1` | hedges that may be in flight whatever the share, 0…1000000 |
/// | `hold_max` | `30s` | the longest a response head is held waiting for its first content, 1ms…10m |
///
/// **The race.** The engine holds the exchange's attempts in flight as a set (`Exchange.startHedge`).
/// The first to produce content wins: a content or final event of a 200 event stream, or the head of
/// another 2xx answer. The others are cancelled at once: their connections are reset (never pooled
/// mid-response), so their upstreams stop generating. An attempt that fails before its first
/// content (connect failure, reset, an error event, a 5xx or 429 head) does not end the exchange
/// while another still races: the exchange goes on with the other.
///
/// **Nothing reaches the client before a winner.** While a hedge may still start, is racing, or
/// took over from the attempt it raced, a `200 text/event-stream` head is held (`.suspend`, as `retry`'s `hold_until_first_token` does)
/// until its first content or final event, or `hold_max`. A winning hedge's head and what it sent
/// then go through the response hooks as if they arrived at that moment.
///
/// **Budget.** A hedge needs a place in a `ShareBudget` shared by every worker (`budget_ratio`,
/// `budget_min`): without one no hedge starts, so a slow outage is not met with double the load.
/// Requests whose body is still arriving, or larger than the chain's replay limit, are not hedged.
///
/// **With other filters.** A hedge race is one attempt for `retry` (a pair that fails is one failed
/// attempt; its `onUpstreamError` sees the last failure only). `circuit_breaker` judges each attempt
/// for its own endpoint: hedges go only to endpoints the breaker left, a failed or cancelled
/// attempt is reported to it through `onAttemptDropped`, and the winner's result counts for the
/// winner's endpoint. Only the winner's stream is read for tokens, so `token_bucket` charges the
/// client once. A `timeouts` first-token timeout fails the current attempt, and a racing hedge
/// takes over with a first-token time of its own. List `hedge` before `timeouts`: response hooks
/// run in reverse order, and a head `hedge` holds is not seen by the filters listed before it until
/// it is let go, so their first-token timer would not start.
///
/// **Figures.** `sluice_hedges_total{result}`: `started`, `won` (a hedge took the exchange
/// over), `lost` (cancelled: another attempt won or the exchange ended), `failed` (before its first
/// content); `sluice_hedge_budget_refusals_total`; and `sluice_hedge_first_token_saved_seconds`, an
/// estimate per won hedge (`FirstTokenQuantiles.expectedExcess`: the route's measured first-token
/// times beyond the wait at which the hedge won). Access log lines of hedged requests gain `hedges`,
/// `hedge_won`, `hedges_lost`, `hedges_failed` and `hedge_saved_ms` (that estimate).
///
/// **Sharing.** An instance built by a reload adopts the previous instance's budget and measured
/// first-token times.
public final class HedgeFilter: StatefulFilter {
    /// The hooks below that do something; the engine skips the rest.
    public var hooks: FilterHooks { [.onRequest, .selectUpstream, .onResponseHead, .onAttemptDropped, .onComplete] }
    public typealias ExchangeState = State
    public let stateSlot = ExchangeStateSlot()
    public func makeState(for exchange: Exchange) -> State { State() }

    /// The budget and each route's first-token times, shared by an instance and its successors.
    final class SharedState: Sendable {
        let budget = Mutex(ShareBudget())
        let firstTokens = Mutex<[String: FirstTokenQuantiles]>([:])
    }

    /// One exchange's hedging (its `ExchangeState`): whether it counts in the budget, whether a head is held.
    public final class State {
        /// Counted in the budget's active requests.
        var counted = false
        /// Budget places this exchange holds for hedges in flight.
        var held = 0
        /// Hedges started for the current attempt.
        var attemptHedges = 0
        /// When the current attempt (the race's first attempt) started.
        var attemptStart: MonotonicInstant?
        var timer: ExchangeTimer?
        var holding = false
        var holdTimer: ExchangeTimer?
    }

    public let name: String
    public let delay: HedgeDelay
    public let maxExtra: Int
    public let methods: Set<String>
    public let paths: [String]
    public let budgetLimits: ShareBudget.Limits
    public let holdMax: Duration
    private let shared: SharedState

    public var wantsEvents: Bool { true }
    /// Reads only what the classifier made of each event.
    public var eventAccess: EventAccess { .info }

    public init(_ setup: FilterSetup) {
        let config = setup.config
        name = setup.name
        delay = HedgeDelay.read(config)
        maxExtra = config.int("max_extra", default: 1, in: 1...3)
        methods = Set((config.strings("methods") ?? ["POST"]).map { $0.uppercased() })
        paths = config.strings("paths") ?? []
        for path in paths where !path.hasPrefix("/") {
            config.error("'paths' items must start with /, got \(path)", atValueOf: "paths")
        }
        budgetLimits = ShareBudget.Limits(ratio: config.double("budget_ratio", default: 0.1, in: 0...1),
                                          minimum: config.int("budget_min", default: 1, in: 0...1_000_000))
        holdMax = config.duration("hold_max", default: .seconds(30), in: .milliseconds(1)...(.seconds(600)))
        shared = (setup.previous as? HedgeFilter)?.shared ?? SharedState()
        let labels = setup.metricDimensions
        started = Counter(label: "sluice_hedges_total", dimensions: labels + [("result", "started")], factory: setup.metrics)
        won = Counter(label: "sluice_hedges_total", dimensions: labels + [("result", "won")], factory: setup.metrics)
        lost = Counter(label: "sluice_hedges_total", dimensions: labels + [("result", "lost")], factory: setup.metrics)
        failed = Counter(label: "sluice_hedges_total", dimensions: labels + [("result", "failed")], factory: setup.metrics)
        budgetRefusals = Counter(label: "sluice_hedge_budget_refusals_total", dimensions: labels, factory: setup.metrics)
        saved = Timer(label: "sluice_hedge_first_token_saved_seconds", dimensions: labels, factory: setup.metrics)
    }

    private let started: Counter
    private let won: Counter
    private let lost: Counter
    private let failed: Counter
    private let budgetRefusals: Counter
    private let saved: Timer

    /// The shared budget's counts now. Any thread.
    public var budget: ShareBudget { shared.budget.withLock { $0 } }

    /// The wait before a hedge on `route` now. Any thread.
    public func currentDelay(route: String) -> Duration {
        delay.delay(shared.firstTokens.withLock { $0[route] })
    }

    /// Whether requests with this method and path may be hedged.
    func mayHedge(method: String, path: String) -> Bool {
        guard methods.contains(method) else { return false }
        guard !paths.isEmpty else { return true }
        let target = path.prefix { $0 != "?" }
        return paths.contains { target.hasPrefix($0) }
    }

    // MARK: - Hooks

    public func onRequest(_ exchange: Exchange) -> Decision {
        guard mayHedge(method: exchange.request.method, path: String(exchange.request.path)) else { return .next }
        let state = exchange.state(for: self)
        if !state.counted {
            state.counted = true
            shared.budget.withLock { $0.requestStarted() }
        }
        return .next
    }

    public func selectUpstream(_ exchange: Exchange, _ candidates: inout [EndpointCandidate]) -> Decision {
        guard let state = exchange.existingState(for: self), state.counted else { return .next }
        // A new attempt (the first, or a retry after a whole race failed): a race of its own.
        state.timer?.cancel()
        stopHolding(state)
        sync(state, exchange)
        state.attemptHedges = 0
        state.attemptStart = exchange.clock.now()
        state.timer = armTimer(exchange, after: currentDelay(route: exchange.route.name))
        return .next
    }

    public func onResponseHead(_ exchange: Exchange) -> Decision {
        guard let state = exchange.existingState(for: self), state.counted,
              let response = exchange.response, !exchange.headSent else { return .next }
        stopHolding(state)
        sync(state, exchange)
        let racing = exchange.hedgesInFlight > 0
        if racing, response.status >= 500 || response.status == 429 {
            // A failure before the first content: the attempt still racing goes on instead.
            exchange.fail(ProxyError(.upstreamError, "upstream answered \(response.status)", source: .upstream, status: response.status))
            return .next
        }
        let mayStillHedge = state.attemptHedges < maxExtra && state.timer != nil
        // A hedge that took over from a failed attempt is held too: its own first content is what
        // makes it the winner, and a failure before it is still the race's to report (to `retry`).
        let raced = state.attemptHedges > 0
        guard response.status == 200, exchange.isEventStream, racing || mayStillHedge || raced else {
            state.timer?.cancel()
            state.timer = nil
            return .next
        }
        state.holding = true
        // Weak: the timer must not keep an ended exchange alive (the engine cancels it at the end anyway).
        state.holdTimer = exchange.schedule(after: holdMax) { [weak self, weak exchange, weak state] in
            guard let self, let exchange, let state, state.holding else { return }
            self.release(state, exchange)
            exchange.resume(.next)
        }
        return .suspend
    }

    public func onEvent(_ exchange: Exchange, _ event: inout SSEEvent, _ info: LLMEventInfo) -> EventDecision {
        guard let state = exchange.existingState(for: self), state.holding else { return .pass }
        switch info.kind {
        case .content, .done:
            // This attempt won: its head goes out, and the engine cancels the hedges racing it.
            release(state, exchange)
            exchange.resume(.next)
        case .error:
            if exchange.hedgesInFlight > 0 {
                stopHolding(state)
                exchange.fail(ProxyError(.upstreamError, "the upstream sent an error event before its first token", source: .upstream))
            } else {
                release(state, exchange)
                exchange.resume(.next)
            }
        case .preamble, .ping, .usage, .other:
            break
        }
        return .pass
    }

    public func onAttemptDropped(_ exchange: Exchange, _ endpoint: EndpointCandidate, _ error: ProxyError?) {
        guard let state = exchange.existingState(for: self) else { return }
        // The exchange's own attempt (still its endpoint while this runs) is dropped: the head it
        // held is gone with it. A dropped hedge leaves that hold as it was.
        if endpoint.id == exchange.endpoint?.id { stopHolding(state) }
        // The attempt that takes over is not a hedge any more: its place goes back.
        sync(state, exchange)
    }

    public func onComplete(_ exchange: Exchange, _ outcome: Outcome) {
        guard let state = exchange.existingState(for: self) else { return }
        state.timer?.cancel()
        state.timer = nil
        stopHolding(state)
        let held = state.held
        state.held = 0
        let counted = state.counted
        state.counted = false
        shared.budget.withLock { budget in
            budget.release(held)
            if counted { budget.requestEnded() }
        }
        let hedges = exchange.hedges
        if hedges.started > 0 {
            started.increment(by: hedges.started)
            won.increment(by: hedges.won)
            failed.increment(by: hedges.failed)
            lost.increment(by: hedges.lost)
        }
        guard let first = exchange.timings.firstToken, let start = state.attemptStart else { return }
        let waited = first.since(start)
        let route = exchange.route.name
        if hedges.won > 0 {
            if let excess = shared.firstTokens.withLock({ $0[route]?.expectedExcess(over: waited) }) {
                exchange.recordHedgeSaving(excess)
                saved.recordNanoseconds(Int64(excess.components.seconds) * 1_000_000_000 + excess.components.attoseconds / 1_000_000_000)
            }
        } else {
            // Only first tokens of the attempt that was raced: a won hedge's time would hide how
            // long the attempt it beat would have taken.
            shared.firstTokens.withLock { $0[route, default: FirstTokenQuantiles()].record(waited) }
        }
    }

    // MARK: - Hedging

    private func armTimer(_ exchange: Exchange, after wait: Duration) -> ExchangeTimer {
        exchange.schedule(after: wait) { [weak self, weak exchange] in
            guard let self, let exchange else { return }
            self.timerFired(exchange, wait: wait)
        }
    }

    private func timerFired(_ exchange: Exchange, wait: Duration) {
        guard let state = exchange.existingState(for: self) else { return }
        state.timer = nil
        guard exchange.attemptInFlight, !exchange.headSent, exchange.timings.firstToken == nil,
              state.attemptHedges < maxExtra else { return }
        sync(state, exchange)
        let limits = budgetLimits
        guard shared.budget.withLock({ $0.acquire(within: limits) }) else {
            budgetRefusals.increment()
            return
        }
        guard exchange.startHedge() else {
            shared.budget.withLock { $0.release() }
            return
        }
        state.held += 1
        state.attemptHedges += 1
        if state.attemptHedges < maxExtra { state.timer = armTimer(exchange, after: wait) }
    }

    /// Gives back the places of hedges no longer in flight.
    private func sync(_ state: State, _ exchange: Exchange) {
        let inFlight = exchange.hedgesInFlight
        guard state.held > inFlight else { return }
        let extra = state.held - inFlight
        state.held = inFlight
        shared.budget.withLock { $0.release(extra) }
    }

    /// The held head goes out: no hedge starts any more, and those racing are about to be cancelled.
    private func release(_ state: State, _ exchange: Exchange) {
        stopHolding(state)
        state.timer?.cancel()
        state.timer = nil
        let held = state.held
        state.held = 0
        if held > 0 { shared.budget.withLock { $0.release(held) } }
    }

    private func stopHolding(_ state: State) {
        state.holding = false
        state.holdTimer?.cancel()
        state.holdTimer = nil
    }
}

extension HedgeFilter: ReportsLiveFigures {
    /// For the console: `hedging` of `budget_allowance` places taken, among `requests_in_flight`.
    /// Control thread; one short lock.
    public func liveFigures() -> [LiveFigure] {
        let now = budget
        return [LiveFigure("hedging", Double(now.held)), LiveFigure("budget_allowance", Double(now.allowance(budgetLimits))),
                LiveFigure("requests_in_flight", Double(now.active))]
    }
}
