/// What `Filter.onClientLeft` answers when the client of a streaming exchange went away.
///
/// Runs on the exchange's event-loop thread, like every hook.
public enum ClientLeftDecision: Sendable, Equatable {
    /// Cancel the upstream request now, as for any client that leaves (the default).
    case cancel
    /// Keep the upstream running, detached from its client. The exchange goes on without one: the
    /// response is read to its end and every event still reaches the `onEvent` hooks (nothing is
    /// written anywhere), filters' timers still fire, and `exchange.fail` cancels the upstream.
    /// The exchange then ends once, as any other: `onComplete` runs for every filter with outcome
    /// kind `client_gone` and `Outcome.keptUpstreamEnding` saying how the upstream's stream ended.
    /// One filter answering this is enough.
    case keepUpstream
}
