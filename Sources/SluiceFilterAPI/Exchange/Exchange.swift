import SluiceHTTP

/// One request and its response as it passes through a chain.
///
/// Threading: an exchange belongs to one worker's event-loop thread for its whole life. Read and
/// change its members only on that thread (that is where every hook runs). It is `Sendable` only so
/// that shared filter state (a queue, say) can hold it and wake it with `resumeFromAnyThread`.
public final class Exchange: @unchecked Sendable {
    /// The request id: the client's `X-Request-Id` when it sent a sane one, otherwise generated.
    public let id: String
    // The members filters may set are loop-thread state like the rest (see the note below): their
    // accesses are not checked at run time either; each check was about 70 instructions, and
    // `dialect` and the watermarks are read on every event.
    /// The request head as the upstream will get it. Filters may edit it in request phases.
    @exclusivity(unchecked) public var request: HTTPRequestHead
    /// The request body, when some filter of the chain asked for it (see `Filter.requestBodyLimit`).
    /// Filters may replace it in `onRequestBody`; Content-Length is fixed up by the engine.
    @exclusivity(unchecked) public var requestBody: [UInt8]?
    /// Who sent the request: address, port, TLS, listener.
    public let client: ClientInfo
    /// The route that matched, its chain and its upstream group.
    public let route: RouteInfo
    /// The SSE dialect errors are written in: from the route, else guessed from the request path.
    @exclusivity(unchecked) public var dialect: StreamDialect

    // The members only the engine sets (`package(set)`), and `locals`, are read or set on every
    // event, by the engine and by filters, all on the loop thread, never across a call that could
    // reach them again. Their accesses are not checked for exclusivity at run time (a tenth of a
    // forwarded event's instructions when they were: bench/instructions.sh).
    /// The endpoint of the current attempt, once chosen.
    @exclusivity(unchecked) public package(set) var endpoint: EndpointCandidate?
    /// Endpoints tried so far, in order (a retry prefers one not in this list).
    @exclusivity(unchecked) public package(set) var triedEndpoints: [String] = []
    /// 1 for the first attempt, then 2, 3, … for retries. Hedges (`startHedge`) race within an
    /// attempt and do not count as attempts of their own.
    @exclusivity(unchecked) public package(set) var attempt: Int = 0
    /// Hedges started, failed and won so far (see `startHedge`).
    @exclusivity(unchecked) public package(set) var hedges = HedgeCounts()
    /// The upstream's response head, from `onResponseHead` on. Filters may edit it there.
    @exclusivity(unchecked) public var response: HTTPResponseHead?
    /// Headers added to whatever response the client gets, the upstream's or an error
    /// (e.g. RateLimit-* on allowed and refused requests alike).
    @exclusivity(unchecked) public var responseHeaders: [(String, String)] = []
    /// Backpressure: upstream reads stop while more than this many bytes wait to be written to the
    /// client, and resume at `clientLowWatermark`. Filters may set both in request phases.
    @exclusivity(unchecked) public var clientHighWatermark = 256 * 1024
    /// Upstream reads resume when the client's backlog falls to this many bytes (see `clientHighWatermark`).
    @exclusivity(unchecked) public var clientLowWatermark = 64 * 1024
    /// True once any byte of the response head went to the client: from then on there is no retry,
    /// and errors become SSE error events.
    @exclusivity(unchecked) public package(set) var headSent = false
    /// True when the response is an SSE stream (`text/event-stream`).
    @exclusivity(unchecked) public package(set) var isEventStream = false
    /// When the stages of the exchange happened, on `clock`. Set by the engine; read-only for filters.
    @exclusivity(unchecked) public package(set) var timings: ExchangeTimings
    /// Bytes, chunks and events so far. Set by the engine; read-only for filters.
    @exclusivity(unchecked) public package(set) var counters = ExchangeCounters()
    /// Token accounting for the response stream: content events, `usage`, `[DONE]`.
    @exclusivity(unchecked) public package(set) var tokens: StreamTokenAccount
    /// The last response event read in full, for classifying the next ones (`classifyAndRecord`).
    @exclusivity(unchecked) var eventShape = LLMEventShape()
    /// The clock filters must use for time logic.
    public let clock: any SluiceClock
    /// The worker that owns this exchange (0-based).
    public let worker: Int

    /// The first filter's per-exchange state kept by the filter's identity (see `locals`), in a
    /// place of its own: a chain usually keys one state that way, and a list of one cost an
    /// allocation per request.
    @exclusivity(unchecked) private var firstLocal: (filter: ObjectIdentifier, state: AnyObject)?
    /// The other filters' per-exchange states, by the filter's identity. A list searched in order: a
    /// chain has a handful of filters, and hashing into a dictionary (which also grew from empty on
    /// every exchange) cost several thousand instructions per request.
    @exclusivity(unchecked) private var locals: [(filter: ObjectIdentifier, state: AnyObject)] = []
    /// The `StatefulFilter`s' states, at their `ExchangeStateSlot` indices (see `state(for:)`).
    @usableFromInline @exclusivity(unchecked) var filterStates = FilterStates()
    /// The engine's side of this exchange. Not retained, and not a weak reference either: a weak
    /// one gave the driver a side table, which made every retain and release of it, many per
    /// request, take the runtime's slow path. The driver clears it when it goes (`detach`), on the
    /// loop thread, which is the only thread that reads it.
    package private(set) unowned(unsafe) var driver: (any ExchangeDriver)?
    /// The loop the exchange runs on, for the calls that may come from any thread
    /// (`resumeFromAnyThread`, `executeOnLoop`). Set with the driver, before any filter sees the
    /// exchange, and never changed.
    package private(set) var loop: (any ExchangeLoop)?

    /// Makes `driver` this exchange's driver, on `loop`. Before any filter sees the exchange.
    package func attach(_ driver: any ExchangeDriver, loop: any ExchangeLoop) {
        self.driver = driver
        self.loop = loop
    }

    /// `driver` goes: the calls that need it do nothing from now on. Loop thread.
    package func detach(_ driver: any ExchangeDriver) {
        if self.driver === driver { self.driver = nil }
    }

    package init(id: String, request: HTTPRequestHead, client: ClientInfo, route: RouteInfo, dialect: StreamDialect,
                 clock: any SluiceClock, worker: Int) {
        self.id = id
        self.request = request
        self.client = client
        self.route = route
        self.dialect = dialect
        self.clock = clock
        self.worker = worker
        self.timings = ExchangeTimings(start: clock.now())
        self.tokens = StreamTokenAccount(dialect: dialect)
    }

    /// Per-exchange state of one filter: created on first use, dropped with the exchange.
    ///
    /// Prefer `StatefulFilter` and `state(for:)`: a state of the filter's own type, found by an
    /// index instead of a search and a cast, and released as soon as the exchange ends.
    @available(*, deprecated, message: "conform to StatefulFilter and use state(for:)")
    public func local<State: AnyObject>(for filter: AnyObject, _ create: () -> State) -> State {
        untypedLocal(for: filter, create)
    }

    /// The state `local(for:_:)` made, if any.
    @available(*, deprecated, message: "conform to StatefulFilter and use existingState(for:)")
    public func existingLocal<State: AnyObject>(for filter: AnyObject, as type: State.Type = State.self) -> State? {
        existingUntypedLocal(for: filter, as: type)
    }

    /// `local(for:_:)` for the built-in filters that still key state by an object's identity.
    package func untypedLocal<State: AnyObject>(for filter: AnyObject, _ create: () -> State) -> State {
        let key = ObjectIdentifier(filter)
        if let first = firstLocal, first.filter == key {
            if let existing = Self.cast(first.state, to: State.self) { return existing }
            let made = create()
            firstLocal = (key, made)
            return made
        }
        if firstLocal == nil {
            let made = create()
            // (Unless `create` kept a state of its own meanwhile: then this one goes to the list.)
            if firstLocal == nil {
                firstLocal = (key, made)
                return made
            }
            locals.append((key, made))
            return made
        }
        let index = locals.firstIndex { $0.filter == key }
        if let index, let existing = Self.cast(locals[index].state, to: State.self) { return existing }
        let made = create()
        if let index {
            locals[index].state = made
        } else {
            if locals.isEmpty { locals.reserveCapacity(8) }
            locals.append((key, made))
        }
        return made
    }

    /// `existingLocal(for:as:)` for the built-in filters that still key state by an object's identity.
    package func existingUntypedLocal<State: AnyObject>(for filter: AnyObject, as type: State.Type = State.self) -> State? {
        let key = ObjectIdentifier(filter)
        if let first = firstLocal, first.filter == key { return Self.cast(first.state, to: State.self) }
        for entry in locals where entry.filter == key { return Self.cast(entry.state, to: State.self) }
        return nil
    }

    /// `state as? State`, answered without the run-time's dynamic cast when `state` is exactly a
    /// `State`, as a filter's own state almost always is (the cast cost about 60 instructions per
    /// call, several per forwarded event).
    @inline(__always)
    private static func cast<State: AnyObject>(_ state: AnyObject, to: State.Type) -> State? {
        if ObjectIdentifier(type(of: state)) == ObjectIdentifier(State.self) { return unsafeDowncast(state, to: State.self) }
        return state as? State
    }

    /// Continues an exchange that a filter suspended, as if that filter had answered `decision` now.
    /// Loop thread only; ignored when the exchange is not suspended or has ended.
    public func resume(_ decision: Decision) {
        driver?.resume(decision)
    }

    /// `resume(_:)` from any thread: hops to the exchange's loop first.
    public func resumeFromAnyThread(_ decision: Decision) {
        loop?.execute { [weak self] in self?.resume(decision) }
    }

    /// Ends the exchange now with `error`, from any phase: an error response when nothing was sent yet
    /// (after offering `onUpstreamError` a retry when an attempt is in flight), an SSE error event and a
    /// closed connection when the stream had started. The upstream request is cancelled. Loop thread only.
    public func fail(_ error: ProxyError) {
        driver?.fail(error)
    }

    /// Runs `body` on this exchange's loop thread after `delay`, unless the exchange ended first or
    /// the returned handle was cancelled. Loop thread only.
    @discardableResult
    public func schedule(after delay: Duration, _ body: @escaping () -> Void) -> ExchangeTimer {
        driver?.schedule(after: delay, body) ?? ExchangeTimer(cancel: {})
    }

    /// `schedule(after:_:)` with a body that is handed this exchange when it runs, so it need not
    /// capture it: `exchange.schedule(after: d) { [self] exchange in self.fire(exchange) }`. Prefer
    /// it: a body that captures only its filter costs no allocation and no weak reference, and it
    /// cannot keep the exchange alive (every body is dropped when the exchange ends anyway).
    @discardableResult
    public func schedule(after delay: Duration, _ body: @escaping (Exchange) -> Void) -> ExchangeTimer {
        driver?.schedule(after: delay, handing: body, to: self) ?? ExchangeTimer(cancel: {})
    }

    /// Writes an SSE comment line (`: text`) to the client right away, before or during the stream
    /// (queue positions, keepalives). Sends a 200 `text/event-stream` head first if none was sent.
    /// Loop thread only; ignored for non-SSE requests once a non-SSE head was sent, and skipped
    /// while the client has received part of an upstream event (the comment would land inside it
    /// and corrupt it), so a periodic caller such as a keepalive simply sends at its next turn.
    /// Line breaks in `text` become spaces.
    public func sendComment(_ text: String) {
        // A line break would end the comment and start a field of the filter's making (`data: ...`):
        // the text stays one comment line whatever it holds.
        driver?.sendComment(text.contains(where: \.isNewline)
            ? String(text.map { $0.isNewline ? " " : $0 }) : text)
    }

    /// True while the current attempt is under way: from the moment its upstream connection is set up
    /// (or a pooled one taken) until its response was streamed to the end, while the head is held by a
    /// filter included. False before the first attempt, while `selectUpstream` hooks run, while
    /// `onUpstreamError` hooks run or a retry waits, and once the exchange ended. While it is true,
    /// `fail(_:)` before the head was sent offers the error to `onUpstreamError`; a per-attempt timer
    /// that fires when it is false belongs to an attempt that is already over.
    public var attemptInFlight: Bool { driver?.attemptInFlight ?? false }

    /// Bytes waiting to be written to the client (backpressure).
    public var clientBacklog: Int { driver?.clientBacklog ?? 0 }

    /// How late this exchange's event loop ran its last 100 ms probe: near zero on a healthy worker,
    /// growing when the worker is overloaded (load shedding reads it).
    public var workerLoopLag: Duration { driver?.loopLag ?? .zero }
}

/// Where an exchange's loop-thread work is sent from another thread (the engine's event loop).
package protocol ExchangeLoop: AnyObject {
    func execute(_ body: @escaping @Sendable () -> Void)
}

/// What the engine does on behalf of an exchange. Implemented by the engine only.
package protocol ExchangeDriver: AnyObject {
    func resume(_ decision: Decision)
    func fail(_ error: ProxyError)
    func schedule(after delay: Duration, _ body: @escaping () -> Void) -> ExchangeTimer
    func schedule(after delay: Duration, handing body: @escaping (Exchange) -> Void, to exchange: Exchange) -> ExchangeTimer
    func runOnLoop(_ body: @escaping @Sendable () -> Void)
    func sendComment(_ text: String)
    var attemptInFlight: Bool { get }
    var clientBacklog: Int { get }
    var loopLag: Duration { get }
    func beginOwnStream(_ head: HTTPResponseHead) -> Bool
    func writeOwnStream(_ bytes: [UInt8])
    func endOwnStream()
    func startHedge() -> Bool
    var hedgesInFlight: Int { get }
}

extension ExchangeDriver {
    /// Default: a plain body that hands over the exchange while it lives.
    package func schedule(after delay: Duration, handing body: @escaping (Exchange) -> Void,
                          to exchange: Exchange) -> ExchangeTimer {
        schedule(after: delay) { [weak exchange] in if let exchange { body(exchange) } }
    }

    /// Default for drivers that run one attempt at a time (a test bench): no hedge.
    package func startHedge() -> Bool { false }
    package var hedgesInFlight: Int { 0 }
}

/// Who sent the request.
public struct ClientInfo: Sendable {
    /// The client's IP address, as text (`127.0.0.1`, `::1`).
    public var address: String
    /// The client's TCP port.
    public var port: Int
    /// True when the client connection is TLS.
    public var secure: Bool
    /// The listener the connection arrived on.
    public var listener: String
    /// Client information built by hand (tests).
    public init(address: String, port: Int, secure: Bool, listener: String) {
        self.address = address
        self.port = port
        self.secure = secure
        self.listener = listener
    }
}

/// The route that matched.
public struct RouteInfo: Sendable {
    /// The route's `name` in the filter file.
    public var name: String
    /// The name of the chain the exchange runs through.
    public var chain: String
    /// The upstream group requests on this route go to.
    public var upstreamGroup: String
    /// Route information built by hand (tests).
    public init(name: String, chain: String, upstreamGroup: String) {
        self.name = name
        self.chain = chain
        self.upstreamGroup = upstreamGroup
    }
}

/// When things happened; nil until they do.
public struct ExchangeTimings: Sendable {
    /// The request head was read and the exchange began.
    public var start: MonotonicInstant
    /// The request filters let the exchange through and the first upstream attempt began (after any
    /// admission queue or rate-limit wait). nil for exchanges a request filter answered.
    public var admitted: MonotonicInstant?
    /// The current attempt began (its `selectUpstream` hooks ran next).
    public var attemptStart: MonotonicInstant?
    /// The upstream connection of the current attempt was ready (reused ones count at reuse).
    public var upstreamConnected: MonotonicInstant?
    /// The upstream's response head arrived.
    public var responseHead: MonotonicInstant?
    /// The first byte of the response went to the client.
    public var firstByteToClient: MonotonicInstant?
    /// The first event carrying content arrived (not a role-only delta, a ping or a comment).
    public var firstToken: MonotonicInstant?
    /// The most recent content event.
    public var lastToken: MonotonicInstant?
    /// The longest gap between two content events so far.
    public var longestTokenGap: Duration = .zero
    /// The exchange ended (set just before `onComplete`).
    public var end: MonotonicInstant?
    /// Timings of an exchange that started at `start`, nothing else set.
    public init(start: MonotonicInstant) { self.start = start }
}

/// Running counts for one exchange.
public struct ExchangeCounters: Sendable {
    /// Request body bytes read from the client.
    public var requestBytes = 0
    /// Response body bytes read from the upstream (every attempt).
    public var bytesFromUpstream = 0
    /// Response bytes written to the client, head included.
    public var bytesToClient = 0
    /// Reads of response body from the upstream.
    public var chunks = 0
    /// SSE events parsed from the upstream's response.
    public var events = 0
    /// Times upstream reads were paused for a slow client, and for how long in all (a pause still
    /// under way counts in `clientPausedTime` once it ends, or when the exchange ends).
    public var clientPauses = 0
    /// How long upstream reads were paused in all (see `clientPauses`).
    public var clientPausedTime: Duration = .zero
    /// All zero.
    public init() {}
}
