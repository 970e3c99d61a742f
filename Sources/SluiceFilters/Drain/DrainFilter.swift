import SluiceFilterAPI

/// `drain`: how this chain's streams are treated when the process shuts down.
///
/// On SIGTERM or SIGINT Sluice stops accepting (listeners close, `/readyz` answers 503, keep-alive
/// connections are closed after their current response) and lets streams in flight finish. At the
/// deadline each remaining stream gets a final SSE error event of type `server_shutdown` in its
/// client's dialect, so the client can retry on a healthy instance; then it is closed and its
/// upstream cancelled. The process exits 0 once nothing is left. A second signal stops at once.
///
/// | key | default | meaning |
/// |---|---|---|
/// | `timeout` | `30s` | how long streams in flight may go on after the signal (the longest among the chains in force applies) |
/// | `message` | "the server is shutting down; retry on another instance" | what a stream still running at the deadline is told |
/// | `retry_after` | `1` | seconds suggested to clients that get the shutdown error before their stream started |
///
/// Without a `drain` filter in any chain, the drain timeout is 30 s and the message the default.
public final class DrainFilter: DrainPolicy {
    /// It has no hooks: the engine reads its settings at shutdown (`DrainPolicy`).
    public var hooks: FilterHooks { [] }

    public let drainTimeout: Duration
    public let shutdownError: ProxyError

    public init(_ setup: FilterSetup) {
        let config = setup.config
        drainTimeout = config.duration("timeout", default: .seconds(30), in: .zero...(.seconds(24 * 3600)))
        let message = config.string("message", default: "the server is shutting down; retry on another instance")
        let retryAfter = config.int("retry_after", default: 1, in: 0...3600)
        shutdownError = ProxyError(.serverShutdown, message, retryAfterSeconds: retryAfter)
    }
}
