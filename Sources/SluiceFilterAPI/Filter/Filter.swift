import SluiceHTTP

/// A stage of a chain. One instance is made per chain version from the filter file (see
/// `FilterRegistry`) and is shared by every worker thread, so it must be `Sendable`: keep state shared
/// across exchanges (buckets, breaker windows) behind a `Mutex` or atomics, and keep per-exchange
/// state in a type of the filter's own (`StatefulFilter`, `exchange.state(for:)`).
///
/// Every hook runs on the event-loop thread that owns the exchange and must not block. Request hooks
/// run in file order; response hooks and `onComplete` run in reverse file order. Every hook has a
/// default that does nothing and answers `.next`, so a filter implements only what it needs.
public protocol Filter: AnyObject, Sendable {
    /// The request head arrived; the request body may still be unread. Accepts `.next`, `.reject`,
    /// `.reply`, `.suspend`; `.retry` counts as `.next` (nothing was tried yet), with a warning in
    /// the log once per filter. Filters may edit `exchange.request` (it is what the upstream gets).
    func onRequest(_ exchange: Exchange) -> Decision

    /// When any filter of the chain sets `requestBodyLimit`, the engine reads the whole body (up to
    /// the largest limit; over it the client gets 413) and then calls this in file order, after every
    /// `onRequest`. `exchange.requestBody` holds the bytes and may be replaced. Same answers as `onRequest`.
    func onRequestBody(_ exchange: Exchange) -> Decision

    /// Before each attempt (the first and every retry), in file order. A filter may remove candidates
    /// (an open breaker) or reorder them (stickiness); the engine then picks among what is left by the
    /// group's balance policy. Answer `.reject` to fail the attempt (e.g. no endpoint left), `.suspend`
    /// to wait, or `.next`.
    func selectUpstream(_ exchange: Exchange, _ candidates: inout [EndpointCandidate]) -> Decision

    /// The upstream connection of the current attempt is ready (a new one connected, TLS included, or
    /// a pooled one was taken) and the request is about to be written to it; `exchange.timings.upstreamConnected`
    /// is set. In reverse order, once per connection: when a pooled connection turns out to be closed,
    /// the engine replaces it with a fresh one within the same attempt and this runs again. Per-attempt
    /// timers use it (a connect timeout ends here, a response-head timeout starts). A hook may call
    /// `exchange.fail`; nothing is answered.
    func onUpstreamConnected(_ exchange: Exchange)

    /// An attempt failed before a response head arrived (connect failure, reset, a timeout set by a
    /// filter). In reverse order. `.retry(after:)` starts a new attempt; `.next` passes the error on;
    /// `.reject` replaces it.
    func onUpstreamError(_ exchange: Exchange, _ error: ProxyError) -> Decision

    /// The upstream's response head arrived; nothing has been sent to the client yet. In reverse
    /// order. Filters may edit `exchange.response`. `.retry(after:)` drops this response and tries again;
    /// `.reject` answers with an error instead; `.suspend` holds the head back.
    func onResponseHead(_ exchange: Exchange) -> Decision

    /// A piece of the response body arrived from the upstream, before SSE parsing and before it goes to
    /// the client. In reverse order; only for filters whose `wantsChunks` is true. The filter may change
    /// `chunk.bytes` (the response then loses its Content-Length and is sent chunked). `.reject` ends the
    /// stream with an error; `.retry`, `.reply` and `.suspend` cannot be honoured here and count as
    /// `.next` (logged once per filter and answer).
    func onResponseChunk(_ exchange: Exchange, _ chunk: inout ResponseChunk) -> Decision

    /// Each complete SSE event of the response, in reverse order, with what the LLM classifier made
    /// of it. Called only for filters whose `wantsEvents` is true. In chains where no filter
    /// `rewritesEvents`, bytes are forwarded as they arrive and the event is read-only (changes are
    /// ignored); otherwise events are held until complete and may be changed or dropped.
    func onEvent(_ exchange: Exchange, _ event: inout SSEEvent, _ info: LLMEventInfo) -> EventDecision

    /// The client stopped keeping up: more than `exchange.clientHighWatermark` bytes wait to be written
    /// to it, so the engine stopped reading from the upstream. In reverse order. Not called again until
    /// `onClientDrained`.
    func onClientBlocked(_ exchange: Exchange)

    /// The client's backlog fell to `exchange.clientLowWatermark`; upstream reads resumed. In reverse order.
    func onClientDrained(_ exchange: Exchange)

    /// The client went away while the response streamed: its head was sent and the upstream is still
    /// sending. Called only for filters whose `keepsUpstreamWhenClientLeaves` is true, in reverse
    /// order, before anything is cancelled. `.keepUpstream` from any of them keeps the upstream
    /// running without a client (see `ClientLeftDecision`); otherwise the upstream is cancelled and
    /// the exchange ends as `client_gone`, as it does for every other chain. A hook may schedule
    /// timers (a deadline for the detached upstream) and may call `exchange.fail`, which cancels it.
    func onClientLeft(_ exchange: Exchange) -> ClientLeftDecision

    /// An attempt of a hedged exchange (`Exchange.startHedge`) ended without becoming the
    /// exchange's response: it lost the race (`error` nil; its connection was reset, so its upstream
    /// stops generating) or failed before its first content while another attempt went on (`error`
    /// says how). `endpoint` is the one that attempt used; `exchange.endpoint` may already be
    /// another's. In reverse order, on the loop thread; never for exchanges without hedges, and
    /// never for attempts still racing when the exchange ends (they are cancelled with it). A hook
    /// may call `exchange.fail`.
    func onAttemptDropped(_ exchange: Exchange, _ endpoint: EndpointCandidate, _ error: ProxyError?)

    /// The exchange ended. Called exactly once for every filter of the chain, in reverse order, however
    /// the exchange ended — including for filters whose `onRequest` never ran (check your own local state).
    func onComplete(_ exchange: Exchange, _ outcome: Outcome)

    /// Non-nil asks the engine to buffer the request body (up to this many bytes) before `onRequestBody`.
    var requestBodyLimit: Int? { get }
    /// How much of a streamed request body the engine keeps so a failed attempt can be replayed
    /// (the body still streams to the upstream as it arrives). The chain uses the largest value of its
    /// filters, or 64 KiB when none sets one. A larger body is not replayable: `.retry` then passes the
    /// error on, and the log says why.
    var requestReplayLimit: Int? { get }
    /// True to receive `onEvent`.
    var wantsEvents: Bool { get }
    /// True to receive `onResponseChunk` (it costs a copy of every chunk).
    var wantsChunks: Bool { get }
    /// True when `onEvent` may change or drop events; the chain then forwards whole events only.
    var rewritesEvents: Bool { get }
    /// What `onEvent` does with each event; the engine reads this, not the two flags above. The
    /// default follows them (`.rewrite`, `.read` or `.none`); a filter that reads only the
    /// `LLMEventInfo` answers `.info` and spares the chain a `String` per event.
    var eventAccess: EventAccess { get }
    /// True to be asked `onClientLeft` when the client leaves mid-stream. The engine lists such
    /// filters once per chain version, so chains without one do no work for it.
    var keepsUpstreamWhenClientLeaves: Bool { get }
    /// The hooks this filter implements; the engine does not call the others (they would answer
    /// their default anyway). Read once per chain version. Optional: the default, `.all`, is always
    /// right; a filter that lists its hooks spares each exchange the calls of the empty ones. A hook
    /// left out of the list is never called, even when implemented.
    var hooks: FilterHooks { get }
}

extension Filter {
    /// Default: `.next`.
    public func onRequest(_ exchange: Exchange) -> Decision { .next }
    /// Default: `.next`.
    public func onRequestBody(_ exchange: Exchange) -> Decision { .next }
    /// Default: `.next`, candidates unchanged.
    public func selectUpstream(_ exchange: Exchange, _ candidates: inout [EndpointCandidate]) -> Decision { .next }
    /// Default: nothing.
    public func onUpstreamConnected(_ exchange: Exchange) {}
    /// Default: `.next`, the error passes on.
    public func onUpstreamError(_ exchange: Exchange, _ error: ProxyError) -> Decision { .next }
    /// Default: `.next`.
    public func onResponseHead(_ exchange: Exchange) -> Decision { .next }
    /// Default: `.next`, the chunk unchanged.
    public func onResponseChunk(_ exchange: Exchange, _ chunk: inout ResponseChunk) -> Decision { .next }
    /// Default: `.pass`.
    public func onEvent(_ exchange: Exchange, _ event: inout SSEEvent, _ info: LLMEventInfo) -> EventDecision { .pass }
    /// Default: nothing.
    public func onClientBlocked(_ exchange: Exchange) {}
    /// Default: nothing.
    public func onClientDrained(_ exchange: Exchange) {}
    /// Default: `.cancel`.
    public func onClientLeft(_ exchange: Exchange) -> ClientLeftDecision { .cancel }
    /// Default: nothing.
    public func onAttemptDropped(_ exchange: Exchange, _ endpoint: EndpointCandidate, _ error: ProxyError?) {}
    /// Default: nothing.
    public func onComplete(_ exchange: Exchange, _ outcome: Outcome) {}
    /// Default: nil, the body is not buffered for this filter.
    public var requestBodyLimit: Int? { nil }
    /// Default: nil, no opinion (the chain keeps 64 KiB unless another filter asks for more).
    public var requestReplayLimit: Int? { nil }
    /// Default: false.
    public var wantsEvents: Bool { false }
    /// Default: false.
    public var wantsChunks: Bool { false }
    /// Default: false.
    public var rewritesEvents: Bool { false }
    /// Default: from `rewritesEvents` and `wantsEvents`.
    public var eventAccess: EventAccess { rewritesEvents ? .rewrite : wantsEvents ? .read : .none }
    /// Default: false, `onClientLeft` is not called.
    public var keepsUpstreamWhenClientLeaves: Bool { false }
    /// Default: `.all`, every hook is called.
    public var hooks: FilterHooks { .all }
}

/// A piece of a response body on its way to the client.
public struct ResponseChunk: Sendable {
    /// The bytes as they will be forwarded; a filter in `onResponseChunk` may replace them.
    public var bytes: [UInt8]
    /// A chunk holding `bytes`.
    public init(bytes: [UInt8]) { self.bytes = bytes }
}

