import SluiceFilterAPI

/// An exchange whose client left mid-stream while a filter kept its upstream running
/// (`ClientLeftDecision.keepUpstream`): what is remembered of the moment the client left, and how
/// the ending is told. Held by the exchange; loop thread only.
///
/// The exchange still ends once, by its usual paths (the upstream's end, a cut, a filter's fail):
/// only the outcome those paths reach is restated, since the client did not see it.
struct ClientDetachment {
    /// Response bytes the client had been written when it left (head included): the exchange's
    /// `bytesToClient` at its end, since nothing written afterwards reached anyone.
    let bytesToClient: Int
    /// When the client left.
    let at: MonotonicInstant

    /// The outcome of an exchange that ended as `reached` without its client: `client_gone`, with
    /// `keptUpstreamEnding` saying how the upstream's stream ended. The error is the one that ended
    /// it (a filter's cancellation, an upstream's cut), or the client's leaving when it ended well.
    func outcome(after reached: Outcome) -> Outcome {
        Outcome(kind: .clientGone, status: reached.status,
                error: reached.error ?? ProxyError(.clientClosed, "the client closed the connection; the upstream ran on to its end",
                                                   source: .client),
                decidedBy: reached.decidedBy, keptUpstreamEnding: reached.kind)
    }
}
