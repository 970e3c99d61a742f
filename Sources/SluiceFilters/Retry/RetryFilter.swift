import SluiceFilterAPI
import Synchronization

/// `retry`: sends a request again, to another endpoint of its group when there is one, when an
/// attempt failed before the client got anything.
///
/// ```yaml
/// - filter: retry
///   config: { max_attempts: 3, hold_until_first_token: true }
/// - filter: circuit_breaker
/// ```
///
/// | key | default | meaning |
/// |---|---|---|
/// | `max_attempts` | `3` | attempts in all, the first included, 1…10 |
/// | `backoff_base` | `100ms` | the first retry waits a random time up to this (full jitter), 1ms…1m |
/// | `backoff_max` | `2s` | the ceiling of that wait doubles with each retry up to this, at least `backoff_base`, at most 10m |
/// | `statuses` | `[429, 502, 503, 504]` | response statuses that are retried, each 400…599 |
/// | `retry_after_max` | `5s` | an upstream's `Retry-After` (whole seconds) is waited for instead of the backoff, but never longer than this, 0s…10m |
/// | `budget_ratio` | `0.2` | requests retrying at once stay below this share of the requests in flight, 0…1 |
/// | `budget_min` | `3` | requests that may retry at once whatever the share, 0…1000000 |
/// | `replay_limit` | `1MiB` | request body kept to send again; a request with a larger body is not retried, 0…64MiB |
/// | `hold_until_first_token` | `false` | hold a 200 event-stream head back until the first content event, so an error before it is retried too |
/// | `hold_max` | `10s` | the longest a head is held; then it goes out and the stream goes on, 1ms…10m |
///
/// **What is retried**, and only while nothing has been sent to the client (`exchange.headSent` is
/// false; the engine enforces it too):
/// - `onUpstreamError` with a retryable error (`ProxyError.retryable`) of kind `connect_failed`,
///   `connect_timeout`, `upstream_reset` (before the head reached the client),
///   `response_head_timeout` or `first_token_timeout`;
/// - `onResponseHead` with a status in `statuses`;
/// - with `hold_until_first_token`, an SSE error event that arrives while the head is held.
///
/// Anything after the first byte went to the client is never retried: the engine ends such a
/// stream with an error event and no clean end.
///
/// **How.** At most `max_attempts` attempts. The wait before retry n is the backoff (see `Backoff`),
/// or, when the upstream's answer carries `Retry-After: <seconds>`, that many seconds capped at
/// `retry_after_max` (a `Retry-After` given as a date is not read; the backoff applies). The engine
/// picks the next endpoint among those this request has not tried yet when there are any (and
/// filters such as `circuit_breaker` have left them), by the group's balance policy.
///
/// **Budget.** A request's first retry needs a place in a `ShareBudget` shared by every worker
/// (with `budget_ratio` and `budget_min`); without one, the failure goes to the client as it is.
///
/// **Request bodies.** `replay_limit` becomes this filter's `requestReplayLimit`: the engine keeps
/// that much of the body to send again (the chain keeps the largest limit of its filters). A request
/// whose body is larger, or still arriving, is not retried; the engine logs why and the client gets
/// the failure.
///
/// **Holding the head** (`hold_until_first_token`). A `200 text/event-stream` head is held back
/// (`.suspend` in `onResponseHead`) while this attempt is not the last one. What arrives meanwhile
/// is held with it. The first content event, or the stream's end event, sends the head and what was
/// held on at once. An error event before any content retries the request instead (when the budget
/// and attempts allow, otherwise the stream goes out with the error event in it), so the client
/// never sees it. After `hold_max` the head goes out anyway. A first-token timeout raised by another
/// filter while the head is held is retried like any pre-head failure.
///
/// **Sharing.** An instance built by a reload adopts the previous instance's budget, so counts stay
/// exact while old streams finish.
public final class RetryFilter: StatefulFilter {
    /// The hooks below that do something; the engine skips the rest.
    public var hooks: FilterHooks { [.onRequest, .selectUpstream, .onUpstreamError, .onResponseHead, .onComplete] }

    /// The budget, shared by an instance and the instances that replace it on reloads.
    final class BudgetBox: Sendable {
        let budget = Mutex(ShareBudget())
    }

    /// Per-exchange state: the exchange's place in the budget and the head held back.
    public final class ExchangeState {
        /// Counted in the budget's requests in flight.
        var started = false
        /// Holds a retry place in the budget.
        var retrying = false
        /// The attempt whose head is held back, while it is.
        var holding: Int?
        var holdTimer: ExchangeTimer?
    }

    public let stateSlot = ExchangeStateSlot()
    public func makeState(for exchange: Exchange) -> ExchangeState { ExchangeState() }

    public let name: String
    public let maxAttempts: Int
    public let backoff: Backoff
    public let statuses: Set<Int>
    public let retryAfterMax: Duration
    public let budgetLimits: ShareBudget.Limits
    public let replayLimit: Int
    public let holdUntilFirstToken: Bool
    public let holdMax: Duration
    private let box: BudgetBox
    /// From the lowest to the highest of `statuses` (empty when there are none).
    private let retriedStatusRange: Range<Int>

    public var requestReplayLimit: Int? { replayLimit }
    public var wantsEvents: Bool { holdUntilFirstToken }
    /// Reads only what the classifier made of each event.
    public var eventAccess: EventAccess { wantsEvents ? .info : .none }

    public static let defaultStatuses: [Int] = [429, 502, 503, 504]

    public init(_ setup: FilterSetup) {
        let config = setup.config
        name = setup.name
        maxAttempts = config.int("max_attempts", default: 3, in: 1...10)
        let base = config.duration("backoff_base", default: .milliseconds(100), in: .milliseconds(1)...(.seconds(60)))
        let maximum = config.duration("backoff_max", default: max(.seconds(2), base), in: .milliseconds(1)...(.seconds(600)))
        if maximum < base {
            config.error("backoff_max must not be shorter than backoff_base (\(ConfigParse.durationText(base)))", atValueOf: "backoff_max")
        }
        backoff = Backoff(base: base, maximum: maximum)
        statuses = Set(Self.readStatuses(config) ?? Self.defaultStatuses)
        retriedStatusRange = (statuses.min() ?? 0)..<((statuses.max() ?? -1) + 1)
        retryAfterMax = config.duration("retry_after_max", default: .seconds(5), in: .zero...(.seconds(600)))
        budgetLimits = ShareBudget.Limits(ratio: config.double("budget_ratio", default: 0.2, in: 0...1),
                                          minimum: config.int("budget_min", default: 3, in: 0...1_000_000))
        replayLimit = config.size("replay_limit", default: 1024 * 1024, in: 0...(64 * 1024 * 1024))
        holdUntilFirstToken = config.bool("hold_until_first_token", default: false)
        holdMax = config.duration("hold_max", default: .seconds(10), in: .milliseconds(1)...(.seconds(600)))
        box = (setup.previous as? RetryFilter)?.box ?? BudgetBox()
        retries = Counter(label: "sluice_retries_total", dimensions: setup.metricDimensions, factory: setup.metrics)
        budgetRefusals = Counter(label: "sluice_retry_budget_refusals_total", dimensions: setup.metricDimensions,
                                 factory: setup.metrics)
    }

    /// `sluice_retries_total` and `sluice_retry_budget_refusals_total` for this instance.
    private let retries: Counter
    private let budgetRefusals: Counter

    /// The shared budget's counts now. Any thread.
    public var budget: ShareBudget { box.budget.withLock { $0 } }

    // MARK: - Hooks

    public func onRequest(_ exchange: Exchange) -> Decision {
        let state = exchange.state(for: self)
        if !state.started {
            state.started = true
            box.budget.withLock { $0.requestStarted() }
        }
        return .next
    }

    public func selectUpstream(_ exchange: Exchange, _ candidates: inout [EndpointCandidate]) -> Decision {
        // A new attempt: whatever the last one held is gone.
        if let state = exchange.existingState(for: self) { stopHolding(state) }
        return .next
    }

    public func onUpstreamError(_ exchange: Exchange, _ error: ProxyError) -> Decision {
        if let state = exchange.existingState(for: self) { stopHolding(state) }
        guard Self.isRetriable(error), let delay = retryDelay(exchange, retryAfter: nil) else { return .next }
        return .retry(after: delay)
    }

    public func onResponseHead(_ exchange: Exchange) -> Decision {
        let state = exchange.state(for: self)
        stopHolding(state)
        guard let response = exchange.response, !exchange.headSent else { return .next }
        // The range first: a success needs no hashing into the set.
        if retriedStatusRange.contains(response.status), statuses.contains(response.status) {
            let retryAfter = Self.retryAfter(response.headers["retry-after"])
            guard let delay = retryDelay(exchange, retryAfter: retryAfter) else { return .next }
            return .retry(after: delay)
        }
        guard holdUntilFirstToken, response.status == 200, exchange.isEventStream, exchange.attempt < maxAttempts else {
            return .next
        }
        let attempt = exchange.attempt
        state.holding = attempt
        // Weak: the timer must not keep an ended exchange alive (the engine cancels it at the end anyway).
        state.holdTimer = exchange.schedule(after: holdMax) { [weak self, weak exchange] in
            guard let self, let exchange, let state = exchange.existingState(for: self),
                  state.holding == attempt, exchange.attempt == attempt else { return }
            state.holding = nil
            state.holdTimer = nil
            exchange.resume(.next)
        }
        return .suspend
    }

    public func onEvent(_ exchange: Exchange, _ event: inout SSEEvent, _ info: LLMEventInfo) -> EventDecision {
        guard let state = exchange.existingState(for: self), let held = state.holding,
              held == exchange.attempt else { return .pass }
        switch info.kind {
        case .content, .done:
            stopHolding(state)
            exchange.resume(.next)
        case .error:
            stopHolding(state)
            if let delay = retryDelay(exchange, retryAfter: nil) {
                exchange.resume(.retry(after: delay))
            } else {
                exchange.resume(.next)
            }
        case .preamble, .ping, .usage, .other:
            break
        }
        return .pass
    }

    public func onComplete(_ exchange: Exchange, _ outcome: Outcome) {
        guard let state = exchange.existingState(for: self) else { return }
        stopHolding(state)
        guard state.started else { return }
        state.started = false
        let heldRetry = state.retrying
        state.retrying = false
        box.budget.withLock { budget in
            if heldRetry { budget.release() }
            budget.requestEnded()
        }
    }

    // MARK: - Deciding

    /// The wait before the next attempt, or nil when the request must not be retried: something
    /// went to the client, the attempts are used up, or the budget has no place.
    private func retryDelay(_ exchange: Exchange, retryAfter: Duration?) -> Duration? {
        guard !exchange.headSent, exchange.attempt < maxAttempts else { return nil }
        let state = exchange.state(for: self)
        if !state.retrying {
            // A request whose onRequest never ran (an earlier filter suspended and another resumed
            // it oddly) is still counted in flight while it retries.
            if !state.started {
                state.started = true
                box.budget.withLock { $0.requestStarted() }
            }
            let limits = budgetLimits
            guard box.budget.withLock({ $0.acquire(within: limits) }) else {
                budgetRefusals.increment()
                return nil
            }
            state.retrying = true
        }
        retries.increment()
        if let retryAfter { return min(retryAfter, retryAfterMax) }
        var generator = SystemRandomNumberGenerator()
        return backoff.delay(forRetry: exchange.attempt, using: &generator)
    }

    private func stopHolding(_ state: ExchangeState) {
        state.holding = nil
        state.holdTimer?.cancel()
        state.holdTimer = nil
    }

    /// Upstream errors worth another attempt: the upstream produced nothing for this request.
    static func isRetriable(_ error: ProxyError) -> Bool {
        guard error.retryable else { return false }
        switch error.kind {
        case .connectFailed, .connectTimeout, .upstreamReset, .responseHeadTimeout, .firstTokenTimeout:
            return true
        default:
            return false
        }
    }

    /// `Retry-After` as delta-seconds (`120`); nil when absent or given as an HTTP date.
    static func retryAfter(_ value: String?) -> Duration? {
        guard let text = value?.trimmingASCIISpaces, !text.isEmpty, text.allSatisfy({ $0.isASCII && $0.isNumber }) else {
            return nil
        }
        // Longer than any cap: saturate instead of failing on absurd values.
        guard text.count <= 9, let seconds = Int64(text) else { return .seconds(999_999_999) }
        return .seconds(seconds)
    }

    private static func readStatuses(_ config: ConfigMap) -> [Int]? {
        guard let items = config.list("statuses") else { return nil }
        var statuses: [Int] = []
        for item in items {
            if let text = item.scalar, !item.isQuotedScalar, let status = Int(text), (400...599).contains(status) {
                statuses.append(status)
            } else {
                config.diagnostics.error("'statuses' items must be status codes from 400 to 599, got \(item.summary)", at: item.mark)
            }
        }
        return statuses
    }
}

extension String {
    fileprivate var trimmingASCIISpaces: String {
        var s = Substring(self)
        while s.first == " " || s.first == "\t" { s.removeFirst() }
        while s.last == " " || s.last == "\t" { s.removeLast() }
        return String(s)
    }
}

extension RetryFilter: ReportsLiveFigures {
    /// For the console: the budget now, `retrying` of `budget_allowance` places taken, among
    /// `requests_in_flight`. Control thread; one short lock.
    public func liveFigures() -> [LiveFigure] {
        let now = budget
        return [LiveFigure("retrying", Double(now.held)), LiveFigure("budget_allowance", Double(now.allowance(budgetLimits))),
                LiveFigure("requests_in_flight", Double(now.active))]
    }
}
