import SluiceFilterAPI
import Synchronization

/// `circuit_breaker`: one breaker per upstream endpoint (see `CircuitBreaker`). An endpoint whose
/// breaker is open gets no traffic; requests go to the group's other endpoints, and when none is
/// left the client gets a fast 503.
///
/// ```yaml
/// - filter: retry
/// - filter: circuit_breaker
///   config: { failures: 5, window: 10s, open_duration: 30s, max_open_duration: 5m }
/// ```
///
/// | key | default | meaning |
/// |---|---|---|
/// | `failures` | `5` | open after this many failures within `window`, 1…1000000 (not with `failure_ratio`) |
/// | `failure_ratio` | none | open instead when failures make up at least this share of the results within `window`, 0.01…1 |
/// | `minimum_requests` | `10` | with `failure_ratio`: results the window must hold before the ratio counts, 1…1000000 |
/// | `window` | `10s` | how far back results count, 10ms…1d |
/// | `open_duration` | `30s` | how long an open breaker refuses traffic, 1ms…1d |
/// | `max_open_duration` | `open_duration` | the open time doubles with each reopen (a failed probe) up to this; equal to `open_duration`: fixed |
/// | `half_open_probes` | `1` | requests let through after the open time; as many successes close the breaker, one failure reopens it; 1…1000 |
/// | `count_429` | `false` | count a 429 response head as a failure (otherwise it counts neither way) |
/// | `min_events` | `1` | an event stream cut before this many content events is a failure, 0…1000000 |
/// | `partial_stream` | `failure` | how a stream cut after `min_events` content events counts: `failure`, `success` or `neither` |
///
/// **What counts**, per attempt (a retried request is judged once per endpoint it tried), against
/// the endpoint that attempt used:
/// - failure: a connect failure, a connection reset or closed before the head, a protocol error
///   (`onUpstreamError`, errors the upstream caused); any timeout (`connect_timeout`,
///   `response_head_timeout`, `first_token_timeout`, `idle_timeout`, `total_timeout`, whoever
///   raised it); a 5xx response head, and a 429 with `count_429` (`onResponseHead`); an event
///   stream that was cut by the upstream or a timeout, or that carried an error event, before
///   `min_events` content events (`onComplete`, or when a later filter retries a held response
///   that sent an error event);
/// - success: any other response that reached the client whole (a 4xx other than 429 too: the
///   endpoint answered);
/// - neither: the client left, a filter refused or ended the request for reasons of its own
///   (`max_age`, a slow client, an error it raised with a non-upstream source), an attempt a
///   later filter dropped without a known result, a 429 without `count_429`.
///
/// **Selection** (`selectUpstream`, before every attempt): endpoints whose breaker is open are
/// removed from the candidates. When a breaker is half-open with a free probe place and this
/// request has not tried that endpoint yet, the request becomes the probe: the candidates are
/// narrowed to that endpoint. Half-open endpoints without a free place are removed. When this
/// removes every candidate, the answer is 503 `circuit_open` with `Retry-After`: the seconds until
/// the first breaker's open time is over (rounded up, at least 1). An empty list from an earlier
/// filter is left to the engine.
///
/// **Order in the chain.** Response hooks run in reverse file order, and a filter answering
/// `.retry` stops the hook chain for that attempt. List `circuit_breaker` after `retry`, so the
/// breaker sees each attempt's result before `retry` decides to try again.
///
/// **Sharing.** The breakers live in one table behind a `Mutex`, shared by every worker and keyed
/// by `EndpointCandidate.id` ("group/url"). An instance built by a reload adopts the previous
/// instance's table, so open breakers stay open; the new settings apply from then on.
///
/// **Across instances** (`shared: true`, with a `shared_state:` section): the open state of each
/// endpoint is shared through Redis (`SharedBreakerState`); results, windows and probes stay per
/// instance. When an instance's breaker opens it writes the endpoint's open time to Redis; every
/// request first reads the open times of its group's endpoints (one script run in `onRequest`) and
/// opens its local breakers to match, so one instance seeing an endpoint fail opens it for all
/// from their next request on. When Redis gives no answer within `shared_state.timeout`,
/// `on_failure: closed` answers 503; `local` and `open` go on with the local breakers.
public final class CircuitBreakerFilter: StatefulFilter {
    /// The hooks below that do something; the engine skips the rest.
    public var hooks: FilterHooks { [.onRequest, .selectUpstream, .onUpstreamError, .onResponseHead, .onAttemptDropped, .onComplete] }

    /// How a stream cut after `min_events` content events counts.
    public enum PartialStream: String, CaseIterable, Sendable {
        case failure, success, neither
    }

    /// The breakers, shared by an instance and the instances that replace it on reloads.
    final class BreakerTable: Sendable {
        let breakers = Mutex(BreakerList())
    }

    /// One attempt between its selection and its result.
    fileprivate struct PendingAttempt {
        /// Endpoints tried before this attempt; the attempt's own endpoint is the next one the engine records.
        var triedBefore: Int
        /// The tickets of the endpoints the attempt may use (a probe's included).
        var tickets: AttemptTickets
        /// The endpoint whose probe place this attempt holds.
        var probe: String?
        /// Content events before the first error event the upstream sent, once one came.
        var errorAfterContentEvents: Int?

        func ticket(of endpoint: String) -> CircuitBreaker.Ticket? {
            tickets.ticket(of: endpoint)
        }
    }

    /// The tickets of one attempt's candidates, by endpoint. A list: an attempt has a few
    /// candidates, and settling looks up one or two of them. The first is kept apart from the rest,
    /// since an attempt usually has one candidate and a list of one cost an allocation per request.
    fileprivate struct AttemptTickets {
        private var first: (endpoint: String, ticket: CircuitBreaker.Ticket)?
        private var rest: [(endpoint: String, ticket: CircuitBreaker.Ticket)] = []

        mutating func append(_ endpoint: String, _ ticket: CircuitBreaker.Ticket) {
            if first == nil {
                first = (endpoint, ticket)
            } else {
                rest.append((endpoint, ticket))
            }
        }

        func ticket(of endpoint: String) -> CircuitBreaker.Ticket? {
            if let first, first.endpoint == endpoint { return first.ticket }
            return rest.first { $0.endpoint == endpoint }?.ticket
        }

        /// Drops `endpoint`'s ticket.
        mutating func remove(_ endpoint: String) {
            rest.removeAll { $0.endpoint == endpoint }
            if first?.endpoint == endpoint { first = rest.isEmpty ? nil : rest.removeFirst() }
        }
    }

    /// Per-exchange state: the attempt not judged yet.
    public final class Attempts {
        fileprivate var pending: PendingAttempt?
    }

    public typealias ExchangeState = Attempts
    public let stateSlot = ExchangeStateSlot()
    public func makeState(for exchange: Exchange) -> Attempts { Attempts() }

    public let name: String
    public let settings: CircuitBreaker.Settings
    public let countRateLimited: Bool
    public let minEvents: Int
    public let partialStream: PartialStream
    private let clock: any SluiceClock
    private let table: BreakerTable
    /// Non-nil with `shared: true`.
    private let sharedState: SharedBreakerState?

    /// Events are watched for error events sent before any content.
    public var wantsEvents: Bool { true }
    /// Reads only what the classifier made of each event.
    public var eventAccess: EventAccess { wantsEvents ? .info : .none }

    public init(_ setup: FilterSetup) {
        let config = setup.config
        name = setup.name
        clock = setup.clock
        let failures = config.int("failures", in: 1...1_000_000)
        let ratio = config.double("failure_ratio", in: 0.01...1)
        let minimumRequests = config.int("minimum_requests", in: 1...1_000_000)
        if config.has("failures") && config.has("failure_ratio") {
            config.error("set either failures or failure_ratio, not both", atValueOf: "failure_ratio")
        }
        if config.has("minimum_requests") && !config.has("failure_ratio") {
            config.error("minimum_requests applies only with failure_ratio", atValueOf: "minimum_requests")
        }
        let threshold: CircuitBreaker.Settings.Threshold = ratio.map { .ratio($0, minimumRequests: minimumRequests ?? 10) }
            ?? .failures(failures ?? 5)
        let durations = Duration.milliseconds(1)...Duration.seconds(86_400)
        let window = config.duration("window", default: .seconds(10), in: .milliseconds(10)...(.seconds(86_400)))
        let openDuration = config.duration("open_duration", default: .seconds(30), in: durations)
        let maxOpenDuration = config.duration("max_open_duration", in: durations)
        if let maxOpenDuration, maxOpenDuration < openDuration {
            config.error("max_open_duration must not be shorter than open_duration (\(ConfigParse.durationText(openDuration)))",
                         atValueOf: "max_open_duration")
        }
        let probes = config.int("half_open_probes", default: 1, in: 1...1000)
        settings = CircuitBreaker.Settings(threshold: threshold, window: window, openDuration: openDuration,
                                           maxOpenDuration: maxOpenDuration, halfOpenProbes: probes)
        countRateLimited = config.bool("count_429", default: false)
        minEvents = config.int("min_events", default: 1, in: 0...1_000_000)
        partialStream = config.oneOf("partial_stream", PartialStream.self, default: .failure)
        table = (setup.previous as? CircuitBreakerFilter)?.table ?? BreakerTable()
        metrics = BreakerMetrics(setup)
        sharedState = SharedLimit.store(config, setup).map {
            SharedBreakerState(store: $0, base: SharedLimit.keyBase($0, kind: "cb", setup: setup))
        }
    }

    private let metrics: BreakerMetrics

    /// The state of `endpointID`'s breaker now (closed when it has none yet). Any thread.
    public func state(of endpointID: String) -> CircuitBreaker.State {
        let now = clock.now()
        return table.breakers.withLock { list in list.position(of: endpointID).map { list[$0].state(at: now) } } ?? .closed
    }

    // MARK: - Hooks

    /// `shared: true`: reads which endpoints of the route's group other instances opened, and
    /// opens the local breakers to match before the request goes on. Loop thread.
    public func onRequest(_ exchange: Exchange) -> Decision {
        guard let sharedState else { return .next }
        let ids = sharedState.known(group: exchange.route.upstreamGroup)
        guard !ids.isEmpty else { return .next }
        sharedState.read(ids, worker: exchange.worker) { [self] result in
            switch result {
            case .success(let open):
                guard !open.isEmpty else { return exchange.resume(.next) }
                let now = clock.now()
                table.breakers.withLock { list in
                    for (id, left) in open {
                        let position = list.position(adding: id)
                        if list[position].openShared(until: now + left, at: now) {
                            publish(.open(until: now), at: position, in: &list)
                        }
                    }
                }
                exchange.resume(.next)
            case .failure(let failure):
                sharedState.store.policyApplied(sharedState.store.failurePolicy)
                exchange.resume(sharedState.store.failurePolicy == .closed
                                ? .reject(SharedLimit.unavailable(filter: name, failure)) : .next)
            }
        }
        return .suspend
    }

    public func selectUpstream(_ exchange: Exchange, _ candidates: inout [EndpointCandidate]) -> Decision {
        sharedState?.remember(group: exchange.route.upstreamGroup, candidates: candidates)
        let attempts = exchange.state(for: self)
        if let abandoned = attempts.pending.take() {
            // A later filter started this attempt without an error or a head reaching this filter
            // for the last one (it retried a response it held back): judge what was seen.
            record(abandoned.errorAfterContentEvents.flatMap(cutStream(afterContentEvents:)), for: abandoned, exchange)
        }
        guard !candidates.isEmpty else { return .next }
        let now = clock.now()
        let tried = exchange.triedEndpoints
        let settings = settings
        var tickets = AttemptTickets()
        // The candidates kept, made only once one is left out (usually every breaker is closed).
        var kept: [EndpointCandidate]?
        var probe: EndpointCandidate?
        var soonest: Duration?
        table.breakers.withLock { list in
            // By index: a candidate is copied only when it is kept apart from the list.
            for offset in candidates.indices {
                let id = candidates[offset].id
                let position = list.position(adding: id)
                var keep = false
                switch list[position].check(at: now, settings) {
                case .closed(let ticket):
                    tickets.append(id, ticket)
                    keep = true
                case .probeAvailable where probe == nil && !tried.contains(id):
                    if case .admitted(let ticket) = list[position].admit(at: now, settings) {
                        tickets.append(id, ticket)
                        probe = candidates[offset]
                    }
                case .probeAvailable:
                    soonest = min(soonest ?? .seconds(1), .seconds(1))
                case .refused(let retryAfter):
                    soonest = min(soonest ?? retryAfter, retryAfter)
                }
                if keep {
                    kept?.append(candidates[offset])
                } else if kept == nil {
                    kept = Array(candidates[..<offset])
                }
                // Published under the lock, and only when it changed: two workers publishing what
                // they saw after the lock could leave the older state on show.
                publish(list[position].state(at: now), at: position, in: &list)
            }
        }
        if let probe {
            candidates = [probe]
        } else if let kept {
            candidates = kept
        }
        guard !candidates.isEmpty else {
            metrics.rejected.increment()
            return .reject(ProxyError(
                .circuitOpen, "every endpoint of upstream '\(exchange.route.upstreamGroup)' is unavailable (circuit open)",
                source: .filter(name), retryAfterSeconds: Self.wholeSeconds(soonest ?? .seconds(1))))
        }
        attempts.pending = PendingAttempt(triedBefore: tried.count, tickets: tickets, probe: probe?.id)
        return .next
    }

    public func onUpstreamError(_ exchange: Exchange, _ error: ProxyError) -> Decision {
        settle(exchange, Self.blamesUpstream(error) ? .failure : nil)
        return .next
    }

    public func onResponseHead(_ exchange: Exchange) -> Decision {
        guard let status = exchange.response?.status else { return .next }
        if status >= 500 || (status == 429 && countRateLimited) {
            settle(exchange, .failure)
        }
        // Anything else is judged when the attempt ends: the stream may still be cut.
        return .next
    }

    public func onEvent(_ exchange: Exchange, _ event: inout SSEEvent, _ info: LLMEventInfo) -> EventDecision {
        if info.kind == .error, let attempts = exchange.existingState(for: self),
           attempts.pending != nil, attempts.pending?.errorAfterContentEvents == nil {
            attempts.pending?.errorAfterContentEvents = exchange.tokens.contentEvents
        }
        return .pass
    }

    /// A hedged attempt (see `hedge`) ended without being the response: judged for its own
    /// endpoint now, a failure when it failed for the upstream's reasons, neither when it lost the
    /// race. The pending attempt goes on for the others.
    public func onAttemptDropped(_ exchange: Exchange, _ endpoint: EndpointCandidate, _ error: ProxyError?) {
        guard let attempts = exchange.existingState(for: self), var pending = attempts.pending,
              let ticket = pending.ticket(of: endpoint.id) else { return }
        pending.tickets.remove(endpoint.id)
        if pending.probe == endpoint.id { pending.probe = nil }
        attempts.pending = pending
        let result: CircuitBreaker.Result? = error.map(Self.blamesUpstream) == true ? .failure : nil
        let now = clock.now()
        let settings = settings
        let opened = table.breakers.withLock { list -> CircuitBreaker.State? in
            guard let position = list.position(of: endpoint.id) else { return nil }
            let before = list[position].state(at: now)
            list[position].record(result, for: ticket, at: now, settings)
            let after = list[position].state(at: now)
            publish(after, at: position, in: &list)
            return !before.isOpen && after.isOpen ? after : nil
        }
        if let opened {
            metrics.opened(endpoint.id)
            if case .open(let until) = opened { sharedState?.open(endpoint.id, for: until.since(now), worker: exchange.worker) }
        }
    }

    public func onComplete(_ exchange: Exchange, _ outcome: Outcome) {
        guard let attempts = exchange.existingState(for: self), let pending = attempts.pending.take() else { return }
        let result: CircuitBreaker.Result?
        switch outcome.kind {
        case .upstreamError:
            result = cutStream(afterContentEvents: exchange.tokens.contentEvents)
        case .completed:
            if exchange.isEventStream && exchange.tokens.sawError {
                result = cutStream(afterContentEvents: exchange.tokens.contentEvents)
            } else if exchange.response?.status == 429 {
                result = nil
            } else {
                result = .success
            }
        case .truncated:
            if let error = outcome.error, !Self.blamesUpstream(error) {
                result = nil
            } else {
                result = exchange.isEventStream ? cutStream(afterContentEvents: exchange.tokens.contentEvents) : .failure
            }
        case .failed:
            result = outcome.error.map(Self.blamesUpstream) == true ? .failure : nil
        case .rejected, .clientGone:
            result = nil
        }
        record(result, for: pending, exchange)
    }

    // MARK: - Judging

    /// Records `result` for the pending attempt, against the endpoint it used, and gives back a
    /// probe place it held but did not use. Does nothing when no attempt is pending.
    private func settle(_ exchange: Exchange, _ result: CircuitBreaker.Result?) {
        // Taken out rather than copied and cleared: a copy retains and releases all it holds.
        guard let attempts = exchange.existingState(for: self), let pending = attempts.pending.take() else { return }
        record(result, for: pending, exchange)
    }

    /// Records `result` for `pending`, taken out of the exchange's state, as `settle` describes.
    private func record(_ result: CircuitBreaker.Result?, for pending: PendingAttempt, _ exchange: Exchange) {
        // The engine appends the endpoint it picked to `triedEndpoints`; when it picked none (a
        // later filter refused, or left no candidate) the attempt never went out.
        let tried = exchange.triedEndpoints
        // A hedged attempt may have ended on another endpoint than the one it began on: the
        // exchange's endpoint is the one whose result this is.
        let used = tried.count > pending.triedBefore
            ? (tried.count > pending.triedBefore + 1 ? exchange.endpoint?.id : nil) ?? tried[pending.triedBefore] : nil
        let usedTicket = used.flatMap(pending.ticket(of:))
        let probeTicket = pending.probe.flatMap { $0 == used ? nil : pending.ticket(of: $0) }
        guard usedTicket != nil || probeTicket != nil else { return }
        let now = clock.now()
        let settings = settings
        let opened = table.breakers.withLock { list -> CircuitBreaker.State? in
            var opened: CircuitBreaker.State?
            if let used, let ticket = usedTicket, let position = list.position(of: used) {
                let before = list[position].state(at: now)
                list[position].record(result, for: ticket, at: now, settings)
                let after = list[position].state(at: now)
                publish(after, at: position, in: &list)
                if !before.isOpen && after.isOpen { opened = after }
            }
            if let probe = pending.probe, let ticket = probeTicket, let position = list.position(of: probe) {
                list[position].record(nil, for: ticket, at: now, settings)
            }
            return opened
        }
        if let used, let opened {
            metrics.opened(used)
            if case .open(let until) = opened { sharedState?.open(used, for: until.since(now), worker: exchange.worker) }
        }
    }

    /// Shows `state` as the endpoint's on `/metrics` unless it shows already. Under the table's lock.
    private func publish(_ state: CircuitBreaker.State, at position: Int, in list: inout BreakerList) {
        let value = BreakerMetrics.value(of: state)
        if list.publish(value, at: position) { metrics.publish(value, of: list.id(at: position)) }
    }

    /// How a stream that ended early counts, after `count` content events.
    private func cutStream(afterContentEvents count: Int) -> CircuitBreaker.Result? {
        if count < minEvents { return .failure }
        switch partialStream {
        case .failure: return .failure
        case .success: return .success
        case .neither: return nil
        }
    }

    /// Whether `error` says the endpoint is unwell: any timeout, or a connect, reset, protocol or
    /// upstream error the upstream itself caused (not one a filter raised for reasons of its own).
    static func blamesUpstream(_ error: ProxyError) -> Bool {
        switch error.kind {
        case .connectTimeout, .responseHeadTimeout, .firstTokenTimeout, .idleTimeout, .totalTimeout:
            return true
        case .connectFailed, .upstreamReset, .upstreamProtocol, .upstreamError:
            return error.source == .upstream
        default:
            return false
        }
    }

    /// Whole seconds for `Retry-After`, rounded up, at least 1.
    static func wholeSeconds(_ duration: Duration) -> Int {
        let nanos = max(duration.nanosecondsClamped, 0)
        return max(1, Int((nanos / 1_000_000_000) + (nanos % 1_000_000_000 > 0 ? 1 : 0)))
    }
}

/// What a circuit_breaker filter reports on `/metrics`: each endpoint's state as of the last
/// request that looked at it (an open breaker whose time is up shows open until the next request
/// finds it half-open), the times it opened, and the requests refused because all were open.
final class BreakerMetrics: Sendable {
    let rejected: Counter
    private let factory: any MetricsFactory
    private let labels: [(String, String)]
    private let perEndpoint = Mutex<[String: (state: Gauge, opened: Counter)]>([:])

    init(_ setup: FilterSetup) {
        factory = setup.metrics
        labels = setup.metricDimensions
        rejected = Counter(label: "sluice_circuit_breaker_rejected_total", dimensions: labels, factory: factory)
    }

    /// The gauge's value for `state`: 0 closed, 1 half-open, 2 open.
    static func value(of state: CircuitBreaker.State) -> Int {
        switch state {
        case .closed: return 0
        case .halfOpen: return 1
        case .open: return 2
        }
    }

    func publish(_ value: Int, of endpoint: String) {
        series(endpoint).state.record(value)
    }

    func opened(_ endpoint: String) {
        series(endpoint).opened.increment()
    }

    private func series(_ endpoint: String) -> (state: Gauge, opened: Counter) {
        perEndpoint.withLock { known in
            if let existing = known[endpoint] { return existing }
            let dims = labels + [("endpoint", endpoint)]
            let made = (state: Gauge(label: "sluice_circuit_breaker_state", dimensions: dims, factory: factory),
                        opened: Counter(label: "sluice_circuit_breaker_opened_total", dimensions: dims, factory: factory))
            known[endpoint] = made
            return made
        }
    }
}

extension CircuitBreaker.State {
    var isOpen: Bool {
        if case .open = self { return true }
        return false
    }
}
