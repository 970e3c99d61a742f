// Hedged attempts: another attempt at the same request, on another endpoint of the group, while
// the exchange's own attempt has produced nothing yet. The engine keeps the exchange's attempts in
// flight as a set; the first to produce content is the exchange's response and the others are
// cancelled (connection reset, so their upstreams stop generating).
extension Exchange {
    /// Starts a hedge: another attempt at the request on an endpoint of the group this exchange has
    /// not tried, chosen among the candidates the current attempt's `selectUpstream` hooks left
    /// (so an open breaker's endpoint is never hedged to), by the group's balance policy.
    ///
    /// The hedge connects and sends the request at once, and runs no filter hook while it races.
    /// When it produces the first content (a content or final event of a 200 event stream, or the
    /// head of another 2xx answer) before the current attempt's head was committed, the current
    /// attempt is cancelled (`onAttemptDropped` with no error) and the hedge becomes the
    /// exchange's attempt: its head and what it sent are run through the response hooks as if they
    /// arrived then. When the current attempt's head is committed first, the hedges are cancelled.
    /// When an attempt fails before its first content while another still races, the exchange goes
    /// on with the other, and the failure is reported as `onAttemptDropped` for its own endpoint,
    /// never as `onUpstreamError`: a pair that fails counts as one attempt.
    ///
    /// Answers false, and starts nothing, unless an attempt is in flight (`attemptInFlight`),
    /// nothing went to the client, the request body was read whole and is kept for replay, and an
    /// untried candidate is left. Loop thread only; call it from a timer or a hook.
    public func startHedge() -> Bool {
        driver?.startHedge() ?? false
    }

    /// Hedges racing the current attempt right now.
    public var hedgesInFlight: Int { driver?.hedgesInFlight ?? 0 }

    /// Records the first-token time the hedges of this exchange saved, as the filter that started
    /// them estimates it (`hedges.firstTokenSaved`; the access log writes it as `hedge_saved_ms`).
    /// Call it by `onComplete` at the latest. Loop thread only.
    public func recordHedgeSaving(_ estimate: Duration) {
        hedges.firstTokenSaved = estimate
    }
}

/// What hedging did for one exchange (`Exchange.hedges`). Set by the engine.
public struct HedgeCounts: Sendable, Equatable {
    /// Hedges started (`Exchange.startHedge` answered true).
    public var started = 0
    /// Hedges that failed before their first content.
    public var failed = 0
    /// Times a hedge took the exchange over: it produced the first content (the attempt it raced
    /// was cancelled), or the attempt it raced failed first.
    public var won = 0
    /// Hedges cancelled because another attempt won, or because the exchange ended while they raced.
    public var lost: Int { max(0, started - won - failed) }
    /// The first-token time the hedges saved, as the filter that started them estimated it
    /// (`Exchange.recordHedgeSaving`); nil when none was estimated.
    public var firstTokenSaved: Duration?
    /// None of each.
    public init() {}
}
