import SluiceFilterAPI

/// `timeouts`: bounds how long each stage of an exchange may take, and keeps quiet SSE streams
/// alive with comments.
///
/// | key | meaning |
/// |---|---|
/// | `connect` | per attempt: from this filter's `selectUpstream` until the upstream connection is ready (TLS included); fails with `connect_timeout` |
/// | `response_head` | per attempt: from the connection being ready (the request is sent then) until the upstream's response head; fails with `response_head_timeout` |
/// | `first_token` | per attempt, SSE responses: from the upstream's head until the first content event; fails with `first_token_timeout` |
/// | `between_tokens` | SSE responses: the longest silence after a content event before the next one; fails with `idle_timeout` |
/// | `total` | the whole exchange, from its request head's arrival to its end, retries included; fails with `total_timeout` |
/// | `heartbeat` | SSE responses: after this long with nothing sent to the client, send the comment `: keepalive` |
///
/// Every key is a duration (`250ms`, `30s`, `5m`), 1ms…24h (`heartbeat` 10ms…1h), and optional,
/// but at least one must be set.
///
/// **The stages.** `connect`, `response_head`, `first_token` and `between_tokens` follow each other
/// without overlap, so a slow upstream is blamed on exactly one of them, and the longest wait for a
/// first token is `connect + response_head + first_token`. Only content counts as a token: an event
/// the LLM classifier calls `.content` (`LLMEventInfo`); pings, SSE comments, role-only deltas and
/// other preamble do not end the `first_token` wait and do not reset `between_tokens`. The
/// `between_tokens` silence also runs after the last content event until the stream's proper end
/// (`[DONE]`, `message_stop`), so a stream that stalls before its end is caught too. A non-SSE
/// response body (a non-streaming request) is bounded by `total` only.
///
/// While the client is not keeping up (the engine paused upstream reads, `onClientBlocked`), the
/// upstream cannot be blamed for silence: `first_token` and `between_tokens` pause and start their
/// wait afresh when the client drains.
///
/// **Attempts.** `connect`, `response_head` and `first_token` are per attempt: each retry another
/// filter starts gets its own full time, and a timer of an attempt that already failed never fires
/// into a later one or into the wait before it. `connect` starts in this filter's `selectUpstream`,
/// so filters that wait in `selectUpstream` belong before `timeouts` in the chain (hooks of that
/// phase run in file order). When a pooled connection turns out to be closed, the engine replaces
/// it within the same attempt: that reconnect counts toward `response_head`, which starts afresh
/// once the new connection is ready (the group's `pool.connect_timeout` bounds it too). `total` is one
/// budget for the whole exchange; it counts from the request head's arrival, so waits in filters
/// before this one count, but it is armed when this filter's `onRequest` runs. Once `total` fired,
/// a further attempt is refused in `selectUpstream`.
///
/// **When a timer fires.** The exchange is ended with `exchange.fail` and a `ProxyError` of the
/// kind named in the table (source: this filter):
/// - nothing sent to the client yet: a 504 with a JSON error in the client's dialect. When an
///   attempt is in flight, `onUpstreamError` hooks are offered the error first, so a retry filter
///   may start another attempt; `connect_timeout`, `response_head_timeout` and
///   `first_token_timeout` are retryable, `idle_timeout` and `total_timeout` are not;
/// - the stream already started: an SSE error event in the client's dialect (OpenAI
///   `data: {"error":…}`, Anthropic `event: error`), no `[DONE]`, and the connection is closed.
/// In both cases the upstream request is cancelled.
///
/// **Heartbeat.** Sent only once the upstream's response head was sent to the client and it is an
/// event stream (`exchange.isEventStream`). Not before: a comment before the head would commit the
/// client to a 200 `text/event-stream` answer, and from then on no retry and no error status are
/// possible; `response_head` bounds that wait instead. Every SSE event passed to the client restarts
/// the period (one re-armed timer, not one per event); none is sent while the client is not keeping
/// up, nor after the stream's proper end.
///
/// **The client's request head** is not timed here: it is read before a route and its chain are
/// chosen. The engine bounds it with the file's `limits.client_header_timeout` (a slowloris
/// defence, 408); writing `client_header` in this filter's config is an error that says so.
///
/// **Cost.** At most two timers per exchange, each created once: one for the current stage and
/// `total` together, armed for whichever is due first, and one for `heartbeat`. A deadline that moves
/// later re-arms nothing: the timer fires at the earlier time, finds nothing due, and is armed for
/// what is left. Needs no state across exchanges.
public final class TimeoutsFilter: StatefulFilter {
    /// The hooks below that do something; the engine skips the rest.
    public var hooks: FilterHooks { [.onRequest, .selectUpstream, .onUpstreamConnected, .onUpstreamError, .onResponseHead, .onClientBlocked, .onClientDrained, .onComplete] }

    /// The per-attempt stages, in the order they follow each other.
    enum Stage: Equatable {
        /// No stage timer runs: before the first attempt, after an attempt failed, after the
        /// stream's proper end, or for a non-SSE body.
        case idle
        case connect
        case responseHead
        case firstToken
        case betweenTokens
    }

    public typealias ExchangeState = Watch
    public let stateSlot = ExchangeStateSlot()
    public func makeState(for exchange: Exchange) -> Watch { Watch() }

    /// Per-exchange state: one exchange's timers and where it stands.
    public final class Watch {
        // Read and set on every event, on the exchange's loop thread only: not checked for
        // exclusivity at run time.
        @exclusivity(unchecked) var stage: Stage = .idle
        /// The attempt the stage belongs to.
        @exclusivity(unchecked) var attempt = 0
        /// When the current stage's wait started: its deadline is this plus the stage's limit.
        @exclusivity(unchecked) var stageStart = MonotonicInstant(nanoseconds: 0)
        /// The stage's deadline while the stage is timed: the timer looks at the stage once it is
        /// past (and then at `stageStart`, which may have moved since).
        @exclusivity(unchecked) var stageDue: MonotonicInstant?
        /// When `total` runs out; nil without `total`, and once it fired.
        @exclusivity(unchecked) var totalDue: MonotonicInstant?
        /// The timer of the stage and `total`, made on first use.
        var timer: ExchangeTimer?
        /// When `timer` fires; nil while it is not pending. Never later than `stageDue` or `totalDue`.
        @exclusivity(unchecked) var timerDue: MonotonicInstant?
        var heartbeatTimer: ExchangeTimer?
        @exclusivity(unchecked) var heartbeatArmed = false
        /// The heartbeat timer is pending: it will look at `lastActivity` when it fires.
        @exclusivity(unchecked) var heartbeatTimerPending = false
        /// When the client last got something: the heartbeat is due a period after it.
        @exclusivity(unchecked) var lastActivity = MonotonicInstant(nanoseconds: 0)
        @exclusivity(unchecked) var clientBlocked = false
        /// Set once `total` fired: later attempts are refused with it.
        var totalExpired: ProxyError?
    }

    public let name: String
    public let settings: TimeoutSettings
    public var wantsEvents: Bool { settings.watchesEvents }
    /// Reads only what the classifier made of each event.
    public var eventAccess: EventAccess { wantsEvents ? .info : .none }

    public init(_ setup: FilterSetup) {
        name = setup.name
        settings = TimeoutSettings.decode(setup.config)
        var fired: [String: Counter] = [:]
        for timer in ["connect", "response_head", "first_token", "between_tokens", "total"] {
            fired[timer] = Counter(label: "sluice_timeouts_total", dimensions: setup.metricDimensions + [("timer", timer)],
                                   factory: setup.metrics)
        }
        timeoutCounters = fired
    }

    /// `sluice_timeouts_total` by timer name, as the config writes it.
    private let timeoutCounters: [String: Counter]

    private func countTimeout(_ timer: String) {
        timeoutCounters[timer]?.increment()
    }

    // MARK: - Hooks

    public func onRequest(_ exchange: Exchange) -> Decision {
        let watch = exchange.state(for: self)
        guard let total = settings.total else { return .next }
        let now = exchange.clock.now()
        let elapsed = now.since(exchange.timings.start)
        guard elapsed < total else {
            let error = totalError(total)
            watch.totalExpired = error
            countTimeout("total")
            return .reject(error)
        }
        watch.totalDue = exchange.timings.start + total
        // Armed no later than the connect deadline an attempt starting now would have. One usually
        // does (selectUpstream follows), and then finds the timer due early enough rather than
        // moving it earlier, a reschedule on the loop's timer queue per request. A timer that
        // fires with nothing due is only armed again (`timerFired`).
        arm(watch, exchange, now: now, by: settings.connect.map { now + $0 })
        return .next
    }

    public func selectUpstream(_ exchange: Exchange, _ candidates: inout [EndpointCandidate]) -> Decision {
        let watch = exchange.state(for: self)
        // Another filter retried a total_timeout: the budget is spent whatever it thinks.
        if let expired = watch.totalExpired { return .reject(expired) }
        watch.attempt = exchange.attempt
        // A new attempt has nothing to keep alive until its own head is out.
        stopHeartbeat(watch)
        let now = exchange.clock.now()
        enter(.connect, at: now, watch, exchange, now: now)
        return .next
    }

    public func onUpstreamConnected(_ exchange: Exchange) {
        guard let watch = watch(exchange), watch.attempt == exchange.attempt else { return }
        enter(.responseHead, at: exchange.timings.upstreamConnected ?? exchange.clock.now(), watch, exchange)
    }

    public func onUpstreamError(_ exchange: Exchange, _ error: ProxyError) -> Decision {
        // The attempt is over. (Not every failed attempt reaches this hook: a filter later in the
        // chain may retry first. Stage timers check `attemptInFlight` when they fire for that case.)
        if let watch = watch(exchange) { enter(.idle, at: exchange.clock.now(), watch, exchange) }
        return .next
    }

    public func onResponseHead(_ exchange: Exchange) -> Decision {
        guard let watch = watch(exchange), watch.attempt == exchange.attempt else { return .next }
        afterHead(watch, exchange)
        if settings.heartbeat != nil, exchange.isEventStream {
            restartHeartbeat(watch, exchange)
        } else {
            stopHeartbeat(watch)
        }
        return .next
    }

    public func onEvent(_ exchange: Exchange, _ event: inout SSEEvent, _ info: LLMEventInfo) -> EventDecision {
        guard let watch = watch(exchange), watch.attempt == exchange.attempt else { return .pass }
        switch info.kind {
        case .content:
            // The silence starts again now. A pending between_tokens timer looks at the stage's start
            // when it fires and waits on for what is left, so moving the start is enough: no timer is
            // re-armed (a system call) on every token.
            let start = exchange.timings.lastToken ?? exchange.clock.now()
            if watch.stage == .betweenTokens, watch.stageDue != nil {
                watch.stageStart = start
            } else {
                enter(.betweenTokens, at: start, watch, exchange)
            }
        case .done:
            // The stream ended properly; only the upstream's end of message is left to come.
            enter(.idle, at: exchange.clock.now(), watch, exchange)
            stopHeartbeat(watch)
            return .pass
        case .preamble, .ping, .usage, .error, .other:
            break
        }
        // The event is on its way to the client, so the client is not idle.
        if watch.heartbeatArmed { restartHeartbeat(watch, exchange) }
        return .pass
    }

    public func onClientBlocked(_ exchange: Exchange) {
        // Upstream reads are paused for the client's sake: upstream silence is not the upstream's fault now.
        watch(exchange)?.clientBlocked = true
    }

    public func onClientDrained(_ exchange: Exchange) {
        guard let watch = watch(exchange) else { return }
        watch.clientBlocked = false
        if watch.stage == .firstToken || watch.stage == .betweenTokens {
            enter(watch.stage, at: exchange.clock.now(), watch, exchange)
        }
    }

    public func onComplete(_ exchange: Exchange, _ outcome: Outcome) {
        // The engine cancels an ended exchange's timers; this only keeps the state honest.
        guard let watch = watch(exchange) else { return }
        watch.stage = .idle
        watch.stageDue = nil
        watch.totalDue = nil
        watch.timer?.cancel()
        watch.timerDue = nil
        stopHeartbeat(watch)
    }

    // MARK: - Stages

    private func watch(_ exchange: Exchange) -> Watch? {
        exchange.existingState(for: self)
    }

    private func limit(of stage: Stage) -> Duration? {
        switch stage {
        case .idle: return nil
        case .connect: return settings.connect
        case .responseHead: return settings.responseHead
        case .firstToken: return settings.firstToken
        case .betweenTokens: return settings.betweenTokens
        }
    }

    /// Moves to `stage`, whose wait started at `start`, with its deadline a limit after that (none
    /// when the stage is not watched). `now`: the clock's reading, when the caller has just taken it.
    private func enter(_ stage: Stage, at start: MonotonicInstant, _ watch: Watch, _ exchange: Exchange,
                       now: MonotonicInstant? = nil) {
        watch.stage = stage
        watch.stageStart = start
        guard let limit = limit(of: stage) else {
            watch.stageDue = nil
            return
        }
        watch.stageDue = start + limit
        arm(watch, exchange, now: now)
    }

    /// Makes sure the timer fires by the earlier of the stage's and `total`'s deadlines (and by
    /// `early`, when given, though nothing is due then). A timer due by then already stays as it
    /// is. `now`: the clock's reading, when the caller has just taken it (each reading is a call
    /// through the clock's existential).
    private func arm(_ watch: Watch, _ exchange: Exchange, now: MonotonicInstant? = nil, by early: MonotonicInstant? = nil) {
        var due: MonotonicInstant
        switch (watch.stageDue, watch.totalDue) {
        case (let stage?, let total?): due = min(stage, total)
        case (let stage?, nil): due = stage
        case (nil, let total?): due = total
        case (nil, nil): return
        }
        if let early { due = min(due, early) }
        if let armed = watch.timerDue, armed <= due { return }
        watch.timerDue = due
        let left = due.since(now ?? exchange.clock.now())
        if let timer = watch.timer {
            timer.reschedule(after: left)
        } else {
            // Handed the exchange rather than capturing it: the body holds only this filter, which
            // costs no allocation, and is dropped when the exchange ends.
            watch.timer = exchange.schedule(after: left) { [self] exchange in timerFired(exchange) }
        }
    }

    /// The timer fired: `total` when it is due, else the stage when its deadline passed; then the
    /// timer is armed for what is still to come.
    private func timerFired(_ exchange: Exchange) {
        guard let watch = watch(exchange) else { return }
        watch.timerDue = nil
        let now = exchange.clock.now()
        if let totalDue = watch.totalDue, now >= totalDue, let total = settings.total {
            watch.totalDue = nil
            let error = totalError(total)
            watch.totalExpired = error
            countTimeout("total")
            exchange.fail(error)
            return
        }
        if let stageDue = watch.stageDue, now >= stageDue {
            stageTimerFired(exchange)
        }
        arm(watch, exchange)
    }

    /// The head arrived (and may already have been followed by events): the stage that follows it.
    private func afterHead(_ watch: Watch, _ exchange: Exchange) {
        let now = exchange.clock.now()
        if !exchange.isEventStream || exchange.tokens.sawDone {
            enter(.idle, at: now, watch, exchange)
        } else if exchange.timings.firstToken != nil {
            // Content came while the head was held by a filter that runs before this one.
            enter(.betweenTokens, at: exchange.timings.lastToken ?? now, watch, exchange)
        } else {
            enter(.firstToken, at: exchange.timings.responseHead ?? now, watch, exchange)
        }
    }

    /// The stage's deadline passed. It fails the exchange only when its stage is really overdue for
    /// the attempt it was armed for; the checks below cover hooks this filter did not get to see.
    private func stageTimerFired(_ exchange: Exchange) {
        guard let watch = watch(exchange) else { return }
        watch.stageDue = nil
        guard watch.stage != .idle else { return }
        // A later attempt re-arms the timer in its own selectUpstream.
        guard watch.attempt == exchange.attempt else { return }
        let now = exchange.clock.now()
        guard exchange.attemptInFlight else {
            // No connection is being made yet (a filter after this one is still choosing in
            // selectUpstream) or the attempt already failed and a retry is pending. Only the first
            // can still need the connect timer: give it a full period from now; a retry re-arms anyway.
            if watch.stage == .connect { enter(.connect, at: now, watch, exchange) }
            return
        }
        switch watch.stage {
        case .idle:
            return
        case .connect:
            // onUpstreamConnected moves the stage on, so the connection is not ready.
            break
        case .responseHead:
            if exchange.timings.responseHead != nil {
                // The head arrived, but a filter that runs before this one in the response order holds it.
                afterHead(watch, exchange)
                return
            }
        case .firstToken:
            if exchange.timings.firstToken != nil {
                // Content arrived that this filter did not see (a filter in front of it dropped the event).
                enter(.betweenTokens, at: exchange.timings.lastToken ?? now, watch, exchange)
                return
            }
        case .betweenTokens:
            if exchange.tokens.sawDone {
                enter(.idle, at: now, watch, exchange)
                return
            }
            if let last = exchange.timings.lastToken, last > watch.stageStart {
                // A content event this filter did not see: the silence started then.
                enter(.betweenTokens, at: last, watch, exchange)
                return
            }
        }
        if watch.clientBlocked && (watch.stage == .firstToken || watch.stage == .betweenTokens) {
            // onClientDrained restarts the wait.
            return
        }
        guard let limit = limit(of: watch.stage) else { return }
        if now.since(watch.stageStart) < limit {
            // Fired a little early (the loop's timer resolution): wait for the rest.
            enter(watch.stage, at: watch.stageStart, watch, exchange)
            return
        }
        let stage = watch.stage
        watch.stage = .idle
        switch stage {
        case .connect: countTimeout("connect")
        case .responseHead: countTimeout("response_head")
        case .firstToken: countTimeout("first_token")
        case .betweenTokens: countTimeout("between_tokens")
        case .idle: break
        }
        exchange.fail(stageError(stage, limit))
    }

    private func stageError(_ stage: Stage, _ limit: Duration) -> ProxyError {
        let text = ConfigParse.durationText(limit)
        switch stage {
        case .connect:
            return ProxyError(.connectTimeout, "connecting to the upstream took longer than \(text) (connect)",
                              source: .filter(name))
        case .responseHead:
            return ProxyError(.responseHeadTimeout, "the upstream sent no response head within \(text) (response_head)",
                              source: .filter(name))
        case .firstToken:
            return ProxyError(.firstTokenTimeout, "the upstream sent no token within \(text) of its response head (first_token)",
                              source: .filter(name))
        case .betweenTokens, .idle:
            return ProxyError(.idleTimeout, "the upstream sent no token for \(text) (between_tokens)",
                              source: .filter(name))
        }
    }

    private func totalError(_ total: Duration) -> ProxyError {
        ProxyError(.totalTimeout, "the request took longer than \(ConfigParse.durationText(total)) in all (total)",
                   source: .filter(name))
    }

    // MARK: - Heartbeat

    /// The client just got something: the next keepalive is due a full period from now. A pending
    /// heartbeat timer checks `lastActivity` when it fires, so this re-arms nothing while one is.
    private func restartHeartbeat(_ watch: Watch, _ exchange: Exchange) {
        guard let period = settings.heartbeat else { return }
        watch.heartbeatArmed = true
        watch.lastActivity = exchange.clock.now()
        if !watch.heartbeatTimerPending { armHeartbeat(after: period, watch, exchange) }
    }

    private func armHeartbeat(after delay: Duration, _ watch: Watch, _ exchange: Exchange) {
        watch.heartbeatTimerPending = true
        if let timer = watch.heartbeatTimer {
            timer.reschedule(after: delay)
        } else {
            // Handed the exchange, as the stage timer is. No weak reference to this filter either:
            // one would give it a side table, and every later retain of it the runtime's slow path.
            watch.heartbeatTimer = exchange.schedule(after: delay) { [self] exchange in heartbeatFired(exchange) }
        }
    }

    private func stopHeartbeat(_ watch: Watch) {
        watch.heartbeatArmed = false
        watch.heartbeatTimerPending = false
        watch.heartbeatTimer?.cancel()
    }

    private func heartbeatFired(_ exchange: Exchange) {
        guard let watch = watch(exchange) else { return }
        watch.heartbeatTimerPending = false
        guard watch.heartbeatArmed, !exchange.tokens.sawDone, let period = settings.heartbeat else { return }
        let quiet = exchange.clock.now().since(watch.lastActivity)
        if quiet < period {
            // Something went out since the timer was armed: wait for the rest of the period.
            armHeartbeat(after: period - quiet, watch, exchange)
            return
        }
        // Before the head is out (a filter holds it) a comment would commit a 200 head for it; while
        // the client is blocked a comment only adds to its backlog. Either way: look again later.
        if exchange.headSent && !watch.clientBlocked {
            exchange.sendComment("keepalive")
        }
        restartHeartbeat(watch, exchange)
    }
}
