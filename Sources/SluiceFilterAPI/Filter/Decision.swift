import SluiceHTTP

/// What a phase hook answers. Which answers a phase accepts is stated on each hook of `Filter`;
/// an answer a phase does not accept is treated as `.next` and logged.
public enum Decision: Sendable {
    /// Go on: the next filter, then the next phase.
    case next
    /// Stop and answer the client with this error. Before the response head was sent the client gets
    /// its status and JSON body; after, an SSE error event in its dialect, and the connection ends.
    case reject(ProxyError)
    /// Stop and answer the client with this response instead of asking an upstream (request phases only).
    case reply(HTTPResponseHead, body: [UInt8])
    /// Stop here without an answer. The filter must later call `exchange.resume(_:)` on the
    /// exchange's loop thread (or `resumeFromAnyThread`), or the exchange waits until the client leaves.
    case suspend
    /// Try the upstream again, after the delay (nil: at once). Accepted by `onResponseHead` and
    /// `onUpstreamError` while nothing has been sent to the client; otherwise treated as `.next`.
    case retry(after: Duration?)
}

/// What `onEvent` answers.
public enum EventDecision: Sendable {
    /// Forward the event as received.
    case pass
    /// Forward the event as the filter changed it (only in chains where some filter `rewritesEvents`).
    case modified
    /// Do not forward this event (only in chains where some filter `rewritesEvents`).
    case drop
    /// End the stream with this error event.
    case fail(ProxyError)
}
