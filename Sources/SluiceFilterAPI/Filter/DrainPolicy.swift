/// A filter that sets how the process shuts down (the built-in `drain`). On SIGTERM or SIGINT the
/// engine stops accepting, lets streams in flight run for the longest `drainTimeout` among the chains
/// in force, then ends each remaining stream with `shutdownError` in its client's dialect.
/// Read on the engine's control thread and on the exchange's loop thread; keep the values immutable.
public protocol DrainPolicy: Filter {
    /// How long streams in flight may go on after the signal.
    var drainTimeout: Duration { get }
    /// What a stream still running at the deadline is told (kind `serverShutdown`).
    var shutdownError: ProxyError { get }
}
