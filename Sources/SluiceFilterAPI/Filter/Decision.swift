import SluiceHTTP

/// What a phase hook answers. Which answers a phase accepts is stated on each hook of `Filter`;
/// an answer a phase does not accept (`.retry` from `onRequest`, `.suspend` from `onResponseChunk`)
/// counts as `.next`, and the log gets a warning naming the filter, the hook and the answer, once
/// per filter instance and answer (not once per request).
///
/// Equatable, so a unit test reads `#expect(filter.onRequest(exchange) == .next)`: two decisions
/// are equal when they are the same case with equal payloads (`ProxyError` compares every field,
/// a `.reply` its head and body, a `.retry` its delay, nil equal only to nil).
///
/// Hooks run on the exchange's event-loop thread and return at once; a decision never blocks.
/// The first filter that answers anything but `.next` stops the phase: the filters after it in the
/// phase's order do not run for that phase (after `.suspend`, until the exchange is resumed).
public enum Decision: Sendable, Equatable {
    /// Go on: the next filter, then the next phase.
    case next
    /// Stop and answer the client with this error. Before the response head was sent the client gets
    /// its status and JSON body (OpenAI or Anthropic shape, by `exchange.dialect`); after, an SSE
    /// error event in its dialect, and the connection ends. The upstream request, if any, is
    /// cancelled. The outcome names this filter in `Outcome.decidedBy`.
    // Indirect, like `.reply`: a decision is answered and copied on every hook of every request,
    // and with these payloads inline it was over a hundred bytes; it is now one word.
    indirect case reject(ProxyError)
    /// Stop and answer the client with this response instead of asking an upstream (request phases
    /// only). The engine sets `Content-Length` from `body` and adds `exchange.responseHeaders`.
    indirect case reply(HTTPResponseHead, body: [UInt8])
    /// Stop here without an answer. The filter must later call `exchange.resume(_:)` on the
    /// exchange's loop thread (or `resumeFromAnyThread` from any other thread), or the exchange waits
    /// until the client leaves or a timer ends it. Resuming with `.next` goes on with the filter
    /// after this one, as if this filter had answered `.next` now.
    case suspend
    /// Try the upstream again, after the delay (nil: at once). Accepted by `onResponseHead` and
    /// `onUpstreamError` while nothing has been sent to the client; otherwise treated as `.next`.
    case retry(after: Duration?)
}

/// What `Filter.onEvent` answers for one SSE event of the response.
///
/// Runs on the exchange's event-loop thread. Changing, dropping or adding events takes effect only
/// in chains where some filter's `rewritesEvents` is true; in other chains the bytes have already
/// been forwarded as they arrived, and those answers count as `.pass` (with a warning in the log,
/// once per filter instance and answer).
///
/// Equatable like `Decision`: the same case with equal payloads (`SSEEvent`s field by field).
public enum EventDecision: Sendable, Equatable {
    /// Forward the event as received (or as an earlier filter left it); the next filter sees it.
    case pass
    /// Forward the event as the filter changed it (only in chains where some filter
    /// `rewritesEvents`); the next filter sees the changed event.
    case modified
    /// Do not forward this event (only in chains where some filter `rewritesEvents`). The filters
    /// after this one do not see it.
    case drop
    /// Forward these events to the client first, then this event as the filter left it (only in
    /// chains where some filter `rewritesEvents`). The filters after this one see only this event:
    /// the added events are written as they are, and are not classified or counted in
    /// `exchange.tokens`. Use it to emit text a filter held back, before the event that ends it
    /// (a streaming redaction releasing its held suffix before `[DONE]`). An empty list is `.modified`.
    case prepend([SSEEvent])
    /// End the stream with this error event, as `Decision.reject` does after the head was sent.
    // Indirect: an answer is copied for every event, and a `ProxyError` inline made it large.
    indirect case fail(ProxyError)
}
