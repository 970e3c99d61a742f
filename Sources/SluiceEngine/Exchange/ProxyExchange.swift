import Logging
import SluiceFilterAPI
import SluiceHTTP
import SluiceIO

/// Drives one exchange through its chain: request filters, upstream attempts (with retries), response
/// filters, streaming to the client, and exactly one completion. Owned by its downstream connection.
/// Loop thread only.
///
/// Invariants: once any response byte went to the client (`exchange.headSent`) there is no retry, and a
/// stream that does not end properly is never ended cleanly (no last chunk, connection closed, an SSE
/// error event first when the framing allows). A client that leaves cancels the upstream at once.
final class ProxyExchange: ExchangeDriver, UpstreamConnectionDelegate, ExchangeTimerRunner {
    private enum Phase: Equatable {
        case request(Int)
        case waitingForBody
        case requestBody(Int)
        case selecting(Int)
        case connecting
        case waitingForHead
        case upstreamError(Int)
        case responseHead(Int)
        case retryWait
        case streaming
        case ended
    }

    // The stored state below is read or set on the loop thread only, and never passed inout across
    // a call that could reach it again (`candidates` goes inout to `selectUpstream` hooks, and only
    // `startAttempt`, which no such hook can reach, assigns it): its accesses are not checked at run
    // time. Each check cost about 90 instructions; a short request made a hundred of them.
    let exchange: Exchange
    private unowned let downstream: DownstreamConnection
    private let worker: Worker
    let version: ChainVersion
    private let route: CompiledRoute
    /// The route's chain and series, held here too: the per-event path reads them without a hop
    /// through the route.
    private let chain: CompiledChain
    private let clientVersion: HTTPVersion
    private let clientKeepAlive: Bool
    /// The exchange's clock, held here: reaching it through the exchange copied the existential
    /// at each reading.
    private let clock: any SluiceClock
    /// Everything written to the client goes through it; it alone checks backpressure.
    @exclusivity(unchecked) private var client: ClientSide
    private var logger: Logger { worker.logger }

    @exclusivity(unchecked) private var phase: Phase = .request(0)
    @exclusivity(unchecked) private var suspended = false
    @exclusivity(unchecked) private var candidates: [EndpointCandidate] = []
    @exclusivity(unchecked) private var pendingUpstreamError: ProxyError?

    // Request body.
    @exclusivity(unchecked) private var incomingBody: RequestBody
    /// How the current attempt frames the body for its upstream.
    @exclusivity(unchecked) private var upstreamBodyFraming: UpstreamBodyFraming = .none
    /// The current attempt's request head went to its upstream.
    @exclusivity(unchecked) private var requestSentToUpstream = false

    // Upstream.
    @exclusivity(unchecked) private var upstream: UpstreamConnection?
    @exclusivity(unchecked) private var endpoint: UpstreamEndpoint?
    @exclusivity(unchecked) private var countedActive: String?
    @exclusivity(unchecked) private var freshConnectionRetryUsed = false
    /// Attempts that were retried after an error event in their stream (`hold_until_first_token`).
    @exclusivity(unchecked) private var attemptsEndedByErrorEvent = 0
    @exclusivity(unchecked) private var connectTimer: SluiceIO.Timer?

    // Response.
    /// The response head went to the client (or a comment's head stood for it) and the body
    /// streams: read only while the exchange has not ended.
    private var headCommitted: Bool { phase == .streaming }
    @exclusivity(unchecked) private var heldBody: [UInt8] = []
    /// What is read from the current attempt's response as it passes; nil before its head.
    @exclusivity(unchecked) private var tap: ResponseTap?
    /// Which filter runs, who decided, and what a running hook asked for (applied when it returns).
    @exclusivity(unchecked) private var runner: ChainRunner
    private var decidedBy: String? { runner.decidedBy }
    /// This exchange's route series; the time-to-first-token parts are recorded as they happen.
    let metrics: RouteMetrics
    /// The timers the filters scheduled on this exchange, in the worker's `DeadlineQueue`; closed
    /// (every one cancelled, its body dropped) when the exchange ends.
    @exclusivity(unchecked) private var deadlines = ExchangeDeadlines()
    /// Set when the client left and a filter kept the upstream running (`ClientDetachment`).
    @exclusivity(unchecked) private var detachment: ClientDetachment?
    /// The response is a filter's own stream (`Exchange.beginOwnStream`), not an upstream's.
    @exclusivity(unchecked) private var servesOwnStream = false
    /// Its slot in the worker's `LiveExchanges` while it is in flight; -1 otherwise. Set by `LiveExchanges`.
    @exclusivity(unchecked) var liveSlot = -1
    /// The attempts racing this exchange's own (hedges, `Exchange.startHedge`): with the current
    /// attempt, the set of attempts in flight. Empty unless a filter started a hedge, so an exchange
    /// without one checks only that it is empty, when its head commits and when it ends.
    @exclusivity(unchecked) private var racers: [RacingAttempt] = []

    init(exchange: Exchange, downstream: DownstreamConnection, worker: Worker, version: ChainVersion, route: CompiledRoute,
         clientVersion: HTTPVersion, clientKeepAlive: Bool, bodyFraming: BodyFraming) {
        self.exchange = exchange
        self.downstream = downstream
        self.worker = worker
        self.version = version
        self.route = route
        self.chain = route.chain
        self.metrics = route.metrics
        self.clientVersion = clientVersion
        self.clientKeepAlive = clientKeepAlive
        self.clock = exchange.clock
        self.incomingBody = RequestBody(framing: bodyFraming, bufferLimit: route.chain.requestBodyLimit, replayLimit: route.chain.replayLimit)
        self.client = ClientSide(socket: downstream.socket)
        self.runner = ChainRunner(names: route.chain.filterNames)
        exchange.attach(self, loop: worker.loop)
    }

    deinit {
        // Its entries must not outlive it in the worker's queue (they reach it unretained). An exchange
        // ends before it is freed, so this is a safety net that finds them closed.
        if !deadlines.isClosed { deadlines.close(in: worker.deadlines) }
        // Neither refers to this exchange with a reference of its own (see `Exchange.driver`,
        // `UpstreamConnection.delegate`): they let go of it here, if they have not already.
        exchange.detach(self)
        if let upstream, upstream.delegate === self { upstream.delegate = nil }
    }

    var isEnded: Bool { phase == .ended }

    /// The `drain` settings of this exchange's chain, if it has them.
    var drainPolicy: (any DrainPolicy)? { route.chain.filters.lazy.compactMap { $0 as? any DrainPolicy }.first }

    // MARK: - Request phases

    func start() {
        runRequestFilters(from: 0)
    }

    /// Runs the request hooks from `start` on. `answersFetched`: the shared calls of the run that
    /// starts at `start` were just made, so they are not made again.
    private func runRequestFilters(from start: Int, answersFetched: Bool = false) {
        // Once per walk: each reach through `route` took and dropped a reference.
        let filters = chain.filters
        let hooks = chain.hooks
        var i = start
        while i < chain.filters.count {
            phase = .request(i)
            if !chain.sharedLimitRuns.isEmpty, let run = chain.sharedLimitRuns[i], !(answersFetched && i == start),
               let store = version.sharedStore, fetchSharedAnswers(run, at: i, store) {
                return
            }
            if hooks[i].contains(.onRequest) {
                guard let d = ask(i, { filters[i].onRequest(exchange) }), proceed(d, filter: i) else { return }
            }
            i += 1
        }
        afterRequestFilters()
    }

    /// Asks the run's filters for the shared calls their `onRequest` would make and makes them in one
    /// round trip; the run's hooks then go on from `index` with the answers in place. True when the
    /// exchange now waits for them (the client's leaving meanwhile ends it as any wait does; the
    /// filters still get their answers, to give back what was granted).
    private func fetchSharedAnswers(_ run: [any SharedLimitFilter], at index: Int, _ store: RedisSharedStore) -> Bool {
        var asking: [any SharedLimitFilter] = []
        var calls: [SharedCall] = []
        for (offset, member) in run.enumerated() {
            let (call, interrupted) = self.run(index + offset) { member.sharedCall(for: exchange) }
            // The hook failed the exchange: nothing more to ask for (a grant already asked for is
            // not taken yet).
            if interrupted { return true }
            if let call {
                asking.append(member)
                calls.append(call)
            }
        }
        guard !calls.isEmpty else { return false }
        suspended = true
        store.run(calls, worker: worker.index) { [self] answers in
            for (member, answer) in zip(asking, answers) { member.sharedCallAnswered(exchange, answer) }
            guard suspended, phase == .request(index) else { return }
            suspended = false
            runRequestFilters(from: index, answersFetched: true)
        }
        return true
    }

    private func afterRequestFilters() {
        if incomingBody.isBuffered {
            if incomingBody.complete {
                exchange.requestBody = incomingBody.buffered
                runBodyFilters(from: 0)
            } else {
                phase = .waitingForBody
            }
        } else {
            startAttempt()
        }
    }

    private func runBodyFilters(from start: Int) {
        // Once per walk: each reach through `route` took and dropped a reference.
        let filters = chain.filters
        let hooks = chain.hooks
        var i = start
        while i < chain.filters.count {
            phase = .requestBody(i)
            if hooks[i].contains(.onRequestBody) {
                guard let d = ask(i, { filters[i].onRequestBody(exchange) }), proceed(d, filter: i) else { return }
            }
            i += 1
        }
        startAttempt()
    }

    /// Applies a request-phase answer. Returns true to go on to the next filter.
    private func proceed(_ decision: Decision, filter index: Int) -> Bool {
        switch decision {
        case .next:
            return true
        case .retry:
            warnUnhonoured(.retry, filter: index)
            return true
        case .reject(let error):
            runner.decided(by: index)
            respondWithError(error, outcome: .rejected)
            return false
        case .reply(let head, let body):
            runner.decided(by: index)
            respondWithReply(head, body: body)
            return false
        case .suspend:
            suspended = true
            return false
        }
    }

    /// Client body bytes, as the request parser yields them.
    func clientBody(_ bytes: UnsafeRawBufferPointer) {
        guard phase != .ended else { return }
        exchange.counters.requestBytes += bytes.count
        switch incomingBody.arrived(bytes, attemptHeadSent: requestSentToUpstream) {
        case .kept:
            break
        case .forward:
            if let upstream { writeBodyToUpstream(bytes, upstream, framing: upstreamBodyFraming) }
        case .tooLarge(let limit):
            respondWithError(ProxyError(.requestTooLarge, "request body is larger than \(limit) bytes"), outcome: .rejected)
        }
    }

    func clientBodyEnd() {
        guard phase != .ended else { return }
        incomingBody.ended()
        if phase == .waitingForBody {
            exchange.requestBody = incomingBody.buffered
            runBodyFilters(from: 0)
        } else if !incomingBody.isBuffered, requestSentToUpstream, let upstream, upstreamBodyFraming == .chunked {
            upstream.write(ChunkedEncoding.lastChunk)
        }
    }

    private func writeBodyToUpstream(_ bytes: UnsafeRawBufferPointer, _ upstream: UpstreamConnection, framing: UpstreamBodyFraming) {
        if framing == .chunked {
            upstream.write(ChunkedEncoding.chunkHeader(size: bytes.count))
            upstream.write(bytes)
            upstream.write(ChunkedEncoding.chunkTrailer)
        } else {
            upstream.write(bytes)
        }
    }

    // MARK: - Attempts

    private func startAttempt() {
        exchange.attempt += 1
        let now = clock.now()
        exchange.timings.attemptStart = now
        if exchange.timings.admitted == nil {
            exchange.timings.admitted = now
            metrics.admissionWait.record(now.since(exchange.timings.start))
        }
        // The group's list, shared: copied only when an endpoint has streams in flight here.
        let endpoints = route.group.endpoints
        candidates = route.group.idleCandidates
        for k in endpoints.indices {
            if let active = worker.pool.active[endpoints[k].id], active != 0 { candidates[k].activeStreams = active }
        }
        runSelectFilters(from: 0)
    }

    private func runSelectFilters(from start: Int) {
        // Once per walk: each reach through `route` took and dropped a reference.
        let filters = chain.filters
        let hooks = chain.hooks
        var i = start
        while i < chain.filters.count {
            phase = .selecting(i)
            if hooks[i].contains(.selectUpstream) {
                guard let d = ask(i, { filters[i].selectUpstream(exchange, &candidates) }), proceed(d, filter: i) else { return }
            }
            i += 1
        }
        guard let chosen = route.group.pick(from: candidates, tried: exchange.triedEndpoints),
              let endpoint = route.group.endpoints.first(where: { $0.id == chosen.id }) else {
            finishAttemptWithError(ProxyError(.noUpstream, "no upstream endpoint is available for '\(route.group.name)'", retryAfterSeconds: 1))
            return
        }
        exchange.endpoint = chosen
        if exchange.triedEndpoints.isEmpty {
            // The first attempt's list is the group's list of that one endpoint, shared.
            exchange.triedEndpoints = endpoint.triedAlone
        } else {
            exchange.triedEndpoints.append(chosen.id)
        }
        connect(to: endpoint, allowPooled: true)
    }

    private func connect(to endpoint: UpstreamEndpoint, allowPooled: Bool) {
        self.endpoint = endpoint
        requestSentToUpstream = false
        if countedActive == nil {
            worker.pool.streamStarted(endpoint.id)
            countedActive = endpoint.id
        }
        if allowPooled, let pooled = worker.pool.takeIdle(endpoint) {
            upstream = pooled
            pooled.begin(method: exchange.request.method, delegate: self)
            phase = .connecting
            upstreamConnected(pooled)
            return
        }
        let connection = UpstreamConnection(loop: worker.loop, endpoint: endpoint)
        upstream = connection
        connection.begin(method: exchange.request.method, delegate: self)
        phase = .connecting
        armConnectTimer()
        if !connection.connect() {
            upstream = nil
            connection.close()
            attemptFailed(ProxyError(.connectFailed, "cannot connect to upstream \(endpoint.publicName)", source: .upstream,
                                     logDetail: endpoint.url))
        }
    }

    /// Starts the group's connect timeout for the connection now connecting.
    private func armConnectTimer() {
        // Unowned: the timer is this exchange's own and dies with it. A weak reference would give the
        // exchange a side table, and every retain and release of it the runtime's slow path.
        let timer = connectTimer ?? SluiceIO.Timer(loop: worker.loop) { [unowned self] _ in connectTimedOut() }
        connectTimer = timer
        timer.arm(after: route.group.connectTimeout)
    }

    private func connectTimedOut() {
        guard phase == .connecting, let upstream else { return }
        attemptFailed(ProxyError(.connectTimeout, "connecting to upstream \(upstream.endpoint.publicName) took longer than \(route.group.connectTimeout)",
                                 source: .upstream, logDetail: upstream.endpoint.url))
    }

    func upstreamConnected(_ connection: UpstreamConnection) {
        connectTimer?.cancel()
        guard connection === upstream, phase == .connecting else { return }
        let now = clock.now()
        exchange.timings.upstreamConnected = now
        if let started = exchange.timings.attemptStart { metrics.upstreamConnect.record(now.since(started)) }
        phase = .waitingForHead
        if runUpstreamConnectedHooks() { return }
        sendRequest(on: connection)
    }

    /// The `onUpstreamConnected` hooks, in reverse order. True when one failed the attempt
    /// (`exchange.fail`): another one, or the end, follows.
    private func runUpstreamConnectedHooks() -> Bool {
        let filters = chain.filters
        let hooks = chain.hooks
        var i = filters.count - 1
        while i >= 0 {
            // The hook may have failed the attempt (`exchange.fail`): another one, or the end, follows.
            if hooks[i].contains(.onUpstreamConnected), run(i, { filters[i].onUpstreamConnected(exchange) }).interrupted { return true }
            i -= 1
        }
        return false
    }

    private func sendRequest(on connection: UpstreamConnection) {
        upstreamBodyFraming = writeRequest(on: connection)
        requestSentToUpstream = true
    }

    /// Writes the request (head, and the body read so far) on `connection`; answers how the body
    /// is framed for it.
    private func writeRequest(on connection: UpstreamConnection) -> UpstreamBodyFraming {
        let (bodyBytes, framing) = incomingBody.forAttempt(filtered: exchange.requestBody)
        // Written straight from the client's head into the socket: the same bytes as
        // `upstreamRequest(...)` written out (HeaderRewriterTests), without editing a copy of the head first.
        HeaderRewriter.withUpstreamRequest(exchange.request, exchange: exchange, endpoint: connection.endpoint,
                                           bodyFraming: framing,
                                           allowUnderscores: version.file.limits.allowUnderscoresInHeaderNames,
                                           removingExpect: true) { connection.write($0) }
        if !bodyBytes.isEmpty { bodyBytes.withUnsafeBytes { writeBodyToUpstream($0, connection, framing: framing) } }
        if incomingBody.complete && framing == .chunked { connection.write(ChunkedEncoding.lastChunk) }
        return framing
    }

    private var canReplay: Bool { incomingBody.canReplay }

    func upstreamFailed(_ connection: UpstreamConnection, _ reason: String, sawResponseBytes: Bool, truncated: Bool) {
        guard connection === upstream, phase != .ended else { return }
        upstream = nil
        connection.close()
        // The reason is a system error or a parse error, and the URL an address: the log's, not the client's.
        let detail = "\(connection.endpoint.url): \(reason)"
        if headCommitted {
            truncate(ProxyError(.upstreamReset, "the upstream stream ended early", source: .upstream, logDetail: detail))
            return
        }
        // A pooled connection the upstream had already closed: retry once on a fresh one, invisibly.
        if phase == .waitingForHead, connection.reuseCount > 0, !sawResponseBytes, canReplay, !freshConnectionRetryUsed, let endpoint {
            freshConnectionRetryUsed = true
            connect(to: endpoint, allowPooled: false)
            return
        }
        let error: ProxyError
        if phase == .connecting {
            error = ProxyError(.connectFailed, "cannot connect to upstream \(connection.endpoint.publicName)", source: .upstream,
                               logDetail: detail)
        } else if exchange.response == nil {
            error = ProxyError(.upstreamReset, "the upstream closed before responding", source: .upstream, logDetail: detail)
        } else {
            error = ProxyError(.upstreamReset, "the upstream stream ended early", source: .upstream, retryable: true, logDetail: detail)
        }
        attemptFailed(error)
    }

    /// An attempt failed with nothing sent to the client: offer the filters a retry.
    private func attemptFailed(_ error: ProxyError) {
        connectTimer?.cancel()
        if let upstream {
            self.upstream = nil
            upstream.abort()
        }
        // A hedge still races: the exchange goes on with it, and this failure is this attempt's alone.
        if !racers.isEmpty, !exchange.headSent { return adoptRacer(afterFailure: error) }
        pendingUpstreamError = error
        runUpstreamErrorFilters(from: chain.filters.count - 1)
    }

    private func runUpstreamErrorFilters(from start: Int) {
        // Once per walk: each reach through `route` took and dropped a reference.
        let filters = chain.filters
        let hooks = chain.hooks
        var i = start
        while i >= 0 {
            phase = .upstreamError(i)
            guard hooks[i].contains(.onUpstreamError) else {
                i -= 1
                continue
            }
            guard let d = ask(i, { filters[i].onUpstreamError(exchange, pendingUpstreamError!) }) else { return }
            switch d {
            case .next:
                break
            case .retry(let delay):
                retry(after: delay, filter: i)
                return
            case .reject(let replacement):
                pendingUpstreamError = replacement
                runner.decided(by: i)
            case .reply(let head, let body):
                runner.decided(by: i)
                respondWithReply(head, body: body)
                return
            case .suspend:
                suspended = true
                return
            }
            i -= 1
        }
        finishAttemptWithError(pendingUpstreamError!)
    }

    private func finishAttemptWithError(_ error: ProxyError) {
        respondWithError(error, outcome: .failed)
    }

    private func retry(after delay: Duration?, filter: Int) {
        guard !exchange.headSent else { return }
        guard canReplay else {
            logger.info("not retrying: the request body is larger than the replay limit", metadata: [
                "request_id": "\(exchange.id)", "replay_limit": "\(chain.replayLimit)",
            ])
            finishAttemptWithError(pendingUpstreamError ?? ProxyError(.upstreamError, "upstream failed", source: .upstream))
            return
        }
        if let upstream {
            self.upstream = nil
            upstream.abort()
        }
        // The pair's other attempt still races: it is the next try, with no new attempt started.
        if !racers.isEmpty {
            return adoptRacer(afterFailure: pendingUpstreamError ?? ProxyError(.upstreamError, "upstream failed", source: .upstream))
        }
        if exchange.tokens.sawError { attemptsEndedByErrorEvent += 1 }
        forgetAttempt()
        if let delay, delay > .zero {
            // Unowned: the body is dropped when the exchange ends or is freed.
            _ = schedule(after: delay) { [unowned self] in startAttempt() }
        } else {
            startAttempt()
        }
    }

    // MARK: - Response

    func upstreamHead(_ connection: UpstreamConnection, _ head: HTTPResponseHead) {
        guard connection === upstream, phase == .waitingForHead else { return }
        let now = clock.now()
        exchange.timings.responseHead = now
        if let connected = exchange.timings.upstreamConnected { metrics.upstreamResponseHead.record(now.since(connected)) }
        exchange.response = head
        let tap = ResponseTap(head: head)
        self.tap = tap
        exchange.isEventStream = tap.readsEvents
        runResponseHeadFilters(from: chain.filters.count - 1)
    }

    private func runResponseHeadFilters(from start: Int) {
        // Once per walk: each reach through `route` took and dropped a reference.
        let filters = chain.filters
        let hooks = chain.hooks
        var i = start
        while i >= 0 {
            phase = .responseHead(i)
            guard hooks[i].contains(.onResponseHead) else {
                i -= 1
                continue
            }
            guard let d = ask(i, { filters[i].onResponseHead(exchange) }) else { return }
            switch d {
            case .next:
                break
            case .retry(let delay):
                pendingUpstreamError = ProxyError(.upstreamError, "upstream answered \(exchange.response?.status ?? 0)", source: .upstream)
                retry(after: delay, filter: i)
                return
            case .reject(let error):
                runner.decided(by: i)
                if let upstream { self.upstream = nil; upstream.abort() }
                respondWithError(error, outcome: .failed)
                return
            case .reply(let head, let body):
                runner.decided(by: i)
                if let upstream { self.upstream = nil; upstream.abort() }
                respondWithReply(head, body: body)
                return
            case .suspend:
                suspended = true
                return
            }
            i -= 1
        }
        commitHead()
    }

    private func commitHead() {
        guard var head = exchange.response else { return }
        phase = .streaming
        // This attempt's response goes to the client: the hedges racing it lost.
        if !racers.isEmpty { cancelRacers() }
        if client.sentCommentHead {
            // The client already has a 200 event-stream head (queue comments); only a 200 can follow.
            if head.status != 200 {
                truncate(ProxyError(.upstreamError, "upstream answered \(head.status)", source: .upstream, status: head.status))
                return
            }
        } else {
            let keepAlive = clientKeepAlive && downstream.keepAliveAllowed
            if !client.sendPassedOnHead(head, added: exchange.responseHeaders, requestID: exchange.id,
                                        requestMethod: exchange.request.method, clientVersion: clientVersion,
                                        clientKeepAlive: keepAlive, passContentLength: !chain.rewritesBody) {
                applyResponseHeaders(to: &head)
                head.headers.set("x-request-id", exchange.id)
                client.sendHead(head, requestMethod: exchange.request.method, clientVersion: clientVersion,
                                clientKeepAlive: keepAlive, passContentLength: !chain.rewritesBody)
            }
            exchange.headSent = true
            exchange.timings.firstByteToClient = clock.now()
        }
        if !heldBody.isEmpty {
            let held = heldBody
            heldBody = []
            send(held)
        }
        if upstream == nil, phase == .streaming {
            // The upstream already finished while the head was held.
            completeStream()
        }
    }

    func upstreamBody(_ connection: UpstreamConnection, _ bytes: UnsafeRawBufferPointer) {
        guard connection === upstream, phase != .ended else { return }
        exchange.countResponseRead(bytes: bytes.count)
        if !chain.chunkFilters.isEmpty {
            var chunk = ResponseChunk(bytes: Array(bytes))
            var i = chain.chunkFilters.count - 1
            while i >= 0 {
                let f = chain.chunkFilters[i]
                let (decision, interrupted) = run(f) { chain.filters[f].onResponseChunk(exchange, &chunk) }
                // The hook failed the exchange or the attempt: these bytes belong to neither now.
                if interrupted { return }
                switch decision {
                case .next:
                    break
                case .reject(let error):
                    runner.decided(by: f)
                    failNow(error)
                    return
                case .retry, .reply, .suspend:
                    if let answer = UnhonouredAnswers.Answer(decision) { warnUnhonoured(answer, from: .onResponseChunk, filter: f) }
                }
                i -= 1
            }
            chunk.bytes.withUnsafeBytes { forwardBody($0) }
        } else {
            forwardBody(bytes)
        }
    }

    private func forwardBody(_ bytes: UnsafeRawBufferPointer) {
        if tap?.readsEvents == true {
            processEvents(bytes)
            return
        }
        tap?.keep(bytes, dialect: exchange.dialect)
        if headCommitted {
            send(bytes)
        } else {
            heldBody.append(contentsOf: bytes)
        }
    }

    /// Runs `bytes` through the tap (events parsed, classified, counted, timed) and each event through
    /// the event filters, then forwards either the raw bytes (observe mode) or the events as the
    /// filters left them (rewrite mode). An `SSEEvent` is built only when some filter reads events'
    /// fields (`EventAccess`).
    private func processEvents(_ bytes: UnsafeRawBufferPointer) {
        let rewrite = chain.rewritesEvents
        let callsFilters = !chain.eventFilters.isEmpty
        let buildsEvents = chain.readsEventFields
        var rewritten: [UInt8] = []
        var failure: ProxyError?
        // An `onEvent` hook may call `exchange.fail` or `exchange.resume(.retry…)`, which ends the
        // exchange or (head not sent yet) starts another attempt, at once or after a delay
        // (`.retryWait`, where the attempt number has not moved yet); the rest of these bytes then
        // belong to nobody: a new attempt has a tap of its own.
        guard let tap else { return }
        var isCurrent: Bool { phase != .ended && phase != .retryWait && self.tap === tap }
        do {
            try tap.scan(bytes, exchange: exchange, metrics: metrics, onComment: { text in
                if rewrite { rewritten.append(contentsOf: Array(": \(String(decoding: text, as: UTF8.self))\n\n".utf8)) }
            }, onEvent: { view, info in
                guard callsFilters else { return true }
                var event = buildsEvents ? view.makeEvent() : SSEEvent(data: "")
                var drop = false
                var i = chain.eventFilters.count - 1
                while i >= 0 {
                    let f = chain.eventFilters[i]
                    // `run`, written out: a closure capturing `event` to pass it on inout cost a
                    // run-time exclusivity check per event.
                    let outer = runner.enter(f)
                    let decision = chain.filters[f].onEvent(exchange, &event, info)
                    let interrupted = runner.leave(restoring: outer) && settle()
                    // What the hook asked for was applied: a resume that commits a held head keeps
                    // this attempt streaming; a fail or a retry leaves these bytes to nobody.
                    if interrupted, !isCurrent { return false }
                    switch decision {
                    case .pass: break
                    case .modified:
                        if !rewrite { warnUnhonoured(.modified, from: .onEvent, filter: f) }
                    case .prepend(let added):
                        // Written ahead of this event; the filters after this one see only this event.
                        if rewrite { for extra in added { extra.write(into: &rewritten) } } else { warnUnhonoured(.prepend, from: .onEvent, filter: f) }
                    case .drop:
                        // Bytes already went on as they arrived: the event is not dropped, so the
                        // filters after this one see it too (it counts as `.pass`).
                        if rewrite { drop = true } else { warnUnhonoured(.drop, from: .onEvent, filter: f) }
                    case .fail(let error):
                        runner.decided(by: f)
                        failure = error
                        return false
                    }
                    if drop { break }
                    i -= 1
                }
                if rewrite && !drop { event.write(into: &rewritten) }
                return true
            })
        } catch {
            failure = ProxyError(.upstreamProtocol, "the upstream sent an invalid event stream: \(error)", source: .upstream)
        }
        guard isCurrent else { return }
        if rewrite {
            forward(rewritten)
        } else {
            forward(bytes)
        }
        if let failure, phase != .ended {
            if headCommitted { truncate(failure) } else { attemptFailed(failure) }
        }
    }

    private func forward(_ bytes: UnsafeRawBufferPointer) {
        guard phase != .ended, !bytes.isEmpty else { return }
        if headCommitted {
            send(bytes)
        } else {
            heldBody.append(contentsOf: bytes)
        }
    }

    private func forward(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { forward($0) }
    }

    /// Sends body bytes to the client; when that took its backlog over the high watermark, pauses
    /// upstream reads and tells the filters (`onClientBlocked`).
    private func send(_ bytes: UnsafeRawBufferPointer) {
        let blocked = client.send(bytes, highWatermark: exchange.currentHighWatermark)
        exchange.setBytesToClient(client.bytesWritten)
        guard blocked, let upstream else { return }
        client.pause(at: clock.now(), lowWatermark: exchange.clientLowWatermark)
        downstream.drainWanted = true
        exchange.counters.clientPauses += 1
        upstream.setReading(false)
        var i = chain.filters.count - 1
        while i >= 0 {
            if chain.hooks[i].contains(.onClientBlocked), run(i, { chain.filters[i].onClientBlocked(exchange) }).interrupted { return }
            i -= 1
        }
    }

    private func send(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { send($0) }
    }

    /// The client's output drained below the low watermark.
    func clientDrained() {
        guard client.isPaused, phase != .ended else { return }
        downstream.drainWanted = false
        exchange.counters.clientPausedTime += client.resume(at: clock.now())
        upstream?.setReading(true)
        var i = chain.filters.count - 1
        while i >= 0 {
            if chain.hooks[i].contains(.onClientDrained), run(i, { chain.filters[i].onClientDrained(exchange) }).interrupted { return }
            i -= 1
        }
    }

    func upstreamEnd(_ connection: UpstreamConnection) {
        guard connection === upstream, phase != .ended else { return }
        upstream = nil
        worker.pool.putIdle(connection, maxIdle: route.group.maxIdlePerEndpoint, idleTimeout: route.group.idleTimeout)
        // While a filter holds the head, the whole response waits in `heldBody` and goes out on resume.
        if headCommitted { completeStream() }
    }

    /// The upstream ended its response properly (by its framing). An event stream that speaks a
    /// dialect with a final event (`StreamTokenAccount.lacksFinalEvent`) and lacks it was cut all
    /// the same, however cleanly its connection ended: it is truncated. One with an error event in
    /// it ends as the upstream ended it, with outcome `upstream_error`.
    private func completeStream() {
        if let usage = tap?.usage(dialect: exchange.dialect) { exchange.tokens.recordResponseUsage(usage) }
        if exchange.isEventStream && exchange.tokens.lacksFinalEvent {
            truncate(ProxyError(.upstreamReset, "the upstream ended the stream before its final event", source: .upstream,
                                logDetail: endpoint?.url))
            return
        }
        if client.finish() {
            if !incomingBody.complete { client.forceClose() }
            let outcome = exchange.isEventStream && exchange.tokens.sawError
                ? upstreamErrorOutcome()
                : Outcome(kind: .completed, status: exchange.response?.status, decidedBy: decidedBy)
            finish(outcome, keepAlive: client.keepAlive)
        } else {
            truncate(ProxyError(.upstreamReset, "the upstream body was shorter than announced", source: .upstream))
        }
    }

    /// The outcome of a stream in which the upstream sent an error event: `upstream_error`, with
    /// the event's type and message, and, when earlier attempts were retried for the same reason,
    /// that every attempt failed so.
    private func upstreamErrorOutcome() -> Outcome {
        let tokens = exchange.tokens
        var message = "the upstream sent an error event"
        if let type = tokens.errorType { message += " (\(type))" }
        if let text = tokens.errorMessage { message += ": \(text)" }
        if attemptsEndedByErrorEvent > 0, attemptsEndedByErrorEvent == exchange.attempt - 1 {
            message = "every attempt (\(exchange.attempt)) got an error event; the last: " + message
        }
        return Outcome(kind: .upstreamError, status: exchange.response?.status,
                       error: ProxyError(.upstreamError, message, source: .upstream), decidedBy: decidedBy)
    }

    // MARK: - Ending

    /// Ends a started stream with an error: an SSE error event when possible, never a clean end.
    private func truncate(_ error: ProxyError) {
        guard phase != .ended else { return }
        if let upstream { self.upstream = nil; upstream.abort() }
        if exchange.isEventStream || client.sentCommentHead, client.canAppendEvent {
            // Raw forwarding may have left the client inside an event; end that line and event first
            // so the error event stands on its own and stays parseable.
            if !chain.rewritesEvents, tap?.hasPartialEvent == true {
                client.sendFinal(Array("\n\n".utf8))
            }
            client.sendFinal(error.sseEvent(dialect: exchange.dialect))
        }
        client.forceClose()
        // The upstream's own error event, already passed on, says more than the cut that followed it.
        let outcome = exchange.isEventStream && exchange.tokens.sawError && error.source == .upstream
            ? upstreamErrorOutcome()
            : Outcome(kind: .truncated, status: exchange.response?.status, error: error, decidedBy: decidedBy)
        finish(outcome, keepAlive: false)
    }

    private func respondWithError(_ error: ProxyError, outcome kind: Outcome.Kind) {
        guard phase != .ended else { return }
        if exchange.headSent {
            truncate(error)
            return
        }
        if let upstream { self.upstream = nil; upstream.abort() }
        let rendered = error.renderedResponse(dialect: exchange.dialect)
        var head = HTTPResponseHead(status: rendered.status)
        for (name, value) in rendered.headers { head.headers.add(name, value) }
        head.headers.set("content-length", String(rendered.body.count))
        respond(head, body: rendered.body, outcome: Outcome(kind: kind, status: rendered.status, error: error, decidedBy: decidedBy))
    }

    private func respondWithReply(_ head: HTTPResponseHead, body: [UInt8]) {
        guard phase != .ended else { return }
        if let upstream { self.upstream = nil; upstream.abort() }
        var head = head
        head.headers.set("content-length", String(body.count))
        respond(head, body: body, outcome: Outcome(kind: .rejected, status: head.status, decidedBy: decidedBy))
    }

    /// Answers with a whole response of the proxy's own (an error, a filter's reply). The
    /// connection stays when the request was read whole (or had no body): a refused client may
    /// send its next request on it. A refusal made while the client's bytes are being parsed
    /// (a request hook at the head) waits for the end of that read, which may hold the rest of
    /// the body; bytes still unread then close the connection.
    private func respond(_ head: HTTPResponseHead, body: [UInt8], outcome: Outcome) {
        var head = head
        applyResponseHeaders(to: &head)
        head.headers.set("x-request-id", exchange.id)
        exchange.headSent = true
        exchange.timings.firstByteToClient = clock.now()
        if incomingBody.complete || !downstream.isParsing {
            writeAnswer(head, body: body, requestRead: incomingBody.complete)
            finish(outcome, keepAlive: client.keepAlive)
        } else {
            downstream.answerAfterThisRead { [self] requestRead in
                writeAnswer(head, body: body, requestRead: requestRead)
                return client.keepAlive
            }
            finish(outcome, keepAlive: false)
        }
    }

    private func writeAnswer(_ head: HTTPResponseHead, body: [UInt8], requestRead: Bool) {
        client.sendHead(head, requestMethod: exchange.request.method, clientVersion: clientVersion,
                        clientKeepAlive: clientKeepAlive && requestRead && downstream.keepAliveAllowed,
                        passContentLength: true)
        client.sendFinal(body)
        _ = client.finish()
        exchange.setBytesToClient(client.bytesWritten)
    }

    /// Adds the filters' `exchange.responseHeaders`, replacing headers of the same name (a filter's
    /// RateLimit-* wins over an upstream's or an error's own).
    private func applyResponseHeaders(to head: inout HTTPResponseHead) {
        HeaderRewriter.addResponseFields(exchange.responseHeaders, to: &head.headers)
    }

    /// The client went away: cancel everything at once.
    func clientGone() {
        guard phase != .ended else { return }
        if !chain.clientLeftFilters.isEmpty, keepUpstreamWithoutClient() { return }
        if let upstream { self.upstream = nil; upstream.abort() }
        finish(Outcome(kind: .clientGone, status: exchange.headSent ? exchange.response?.status : nil,
                       error: ProxyError(.clientClosed, "the client closed the connection", source: .client),
                       decidedBy: decidedBy), keepAlive: false, notifyDownstream: false)
    }

    private func releaseActive() {
        if let id = countedActive {
            worker.pool.streamEnded(id)
            countedActive = nil
        }
    }

    private func finish(_ outcome: Outcome, keepAlive: Bool, notifyDownstream: Bool = true) {
        guard phase != .ended else { return }
        if let detachment { return finishWithoutClient(detachment, reached: outcome) }
        phase = .ended
        suspended = false
        connectTimer?.cancel()
        deadlines.close(in: worker.deadlines)
        if !racers.isEmpty { cancelRacers() }
        releaseActive()
        if let upstream { self.upstream = nil; upstream.abort() }
        exchange.timings.end = clock.now()
        // A pause still under way when the exchange ends counts up to the end.
        if client.isPaused { exchange.counters.clientPausedTime += client.endPause(at: exchange.timings.end!) }
        let filters = chain.filters
        let hooks = chain.hooks
        var i = filters.count - 1
        while i >= 0 {
            if hooks[i].contains(.onComplete) { filters[i].onComplete(exchange, outcome) }
            i -= 1
        }
        exchange.releaseFilterStates()
        // Counted with the exchange's other series, not whenever the tap happens to be freed.
        tap?.addPendingGaps()
        worker.exchangeEnded(self, outcome)
        if notifyDownstream { downstream.exchangeFinished(self, keepAlive: keepAlive) }
    }

    // MARK: - Running hooks

    /// Runs a hook of a walk that answers a `Decision` (request, body, selection, upstream error,
    /// response head), then applies what the hook asked of the exchange while it ran. Answers the
    /// decision the walk acts on, or nil when a fail was applied (or is held for the hook around
    /// this one): the walk stops there. A hook that suspended the exchange and resumed it before
    /// returning answers what it resumed with.
    @inline(__always)
    private func ask(_ filter: Int, _ call: () -> Decision) -> Decision? {
        let outer = runner.enter(filter)
        let decision = call()
        guard runner.leave(restoring: outer) else { return decision }
        guard let request = runner.takeRequest() else { return runner.holdsFail ? nil : decision }
        switch request {
        case .fail(let error):
            failNow(error)
            return nil
        case .resume(let resumed):
            if case .suspend = decision { return resumed }
            // The exchange was not suspended while its walk ran: there was nothing to resume.
            return decision
        }
    }

    /// Runs any other hook (or a filter's timer), then applies what it asked of the exchange while it
    /// ran. `interrupted`: a request was applied and moved the exchange on (or a fail is held for the
    /// hook around this one); what the caller was doing for the current attempt stops.
    private func run<T>(_ filter: Int, _ call: () -> T) -> (answer: T, interrupted: Bool) {
        let outer = runner.enter(filter)
        let answer = call()
        return (answer, runner.leave(restoring: outer) && settle())
    }

    /// After a hook whose runner said a request waits: applies it, or (inside another hook) leaves
    /// the held fail to the outer one. Answers true when the current walk must stop.
    @inline(never)
    private func settle() -> Bool {
        guard let request = runner.takeRequest() else { return runner.holdsFail }
        return apply(request)
    }

    /// Applies what a hook asked for while it ran. Answers true when that moved the exchange on.
    /// Kept out of line: inlined into the per-event walk, its read of `exchange.headSent` (checked
    /// for exclusivity at run time from this module) was hoisted to run before every event's hooks.
    @inline(never)
    private func apply(_ request: ChainRunner.Request) -> Bool {
        switch request {
        case .fail(let error):
            failNow(error)
            return true
        case .resume(let decision):
            return resumeNow(decision)
        }
    }

    /// A hook of `filter` answered what its phase cannot honour; the walk goes on as if it had
    /// answered `.next` (`.pass`). Logged once per filter and answer (`UnhonouredAnswers`). `hook`
    /// nil: the request phase the exchange is in (a resume answers for the hook that suspended).
    @inline(never)
    private func warnUnhonoured(_ answer: UnhonouredAnswers.Answer, from hook: UnhonouredAnswers.Hook? = nil, filter: Int) {
        let phaseHook: UnhonouredAnswers.Hook
        switch phase {
        case .requestBody: phaseHook = .onRequestBody
        case .selecting: phaseHook = .selectUpstream
        default: phaseHook = .onRequest
        }
        let hook = hook ?? phaseHook
        guard chain.unhonoured.isFirst(filter: filter, hook: hook, answer: answer) else { return }
        logger.warning("\(UnhonouredAnswers.message(filter: chain.filterNames[filter], chain: chain.name, hook: hook, answer: answer))",
                       metadata: ["request_id": "\(exchange.id)"])
    }

    // MARK: - ExchangeDriver

    /// A filter's answer for the hook that suspended this exchange. From inside one of this
    /// exchange's hooks it is held until that hook returns (`ChainRunner`).
    func resume(_ decision: Decision) {
        if runner.inHook {
            runner.hold(.resume(decision))
        } else {
            resumeNow(decision)
        }
    }

    /// Applies a resume: the walk that suspended goes on with `decision`. Answers false when the
    /// exchange was not suspended (nothing happens).
    @discardableResult
    private func resumeNow(_ decision: Decision) -> Bool {
        guard suspended, phase != .ended else { return false }
        suspended = false
        switch phase {
        case .request(let i):
            if proceed(decision, filter: i) { runRequestFilters(from: i + 1) }
        case .requestBody(let i):
            if proceed(decision, filter: i) { runBodyFilters(from: i + 1) }
        case .selecting(let i):
            if proceed(decision, filter: i) { runSelectFilters(from: i + 1) }
        case .upstreamError(let i):
            switch decision {
            case .retry(let delay): retry(after: delay, filter: i)
            case .reject(let e): pendingUpstreamError = e; runUpstreamErrorFilters(from: i - 1)
            case .reply(let head, let body): respondWithReply(head, body: body)
            case .next: runUpstreamErrorFilters(from: i - 1)
            case .suspend: suspended = true
            }
        case .responseHead(let i):
            switch decision {
            case .next: runResponseHeadFilters(from: i - 1)
            case .retry(let delay):
                pendingUpstreamError = ProxyError(.upstreamError, "upstream response was retried", source: .upstream)
                retry(after: delay, filter: i)
            case .reject(let e):
                if let upstream { self.upstream = nil; upstream.abort() }
                respondWithError(e, outcome: .failed)
            case .reply(let head, let body): respondWithReply(head, body: body)
            case .suspend: suspended = true
            }
        default:
            break
        }
        return true
    }

    /// Ends the exchange (or, before anything reached the client, the attempt) with `error`. From
    /// inside one of this exchange's hooks it is held until that hook returns (`ChainRunner`).
    func fail(_ error: ProxyError) {
        guard phase != .ended else { return }
        runner.noteDecider(of: error)
        if runner.inHook {
            runner.hold(.fail(error))
        } else {
            failNow(error)
        }
    }

    private func failNow(_ error: ProxyError) {
        switch phase {
        case .ended:
            return
        case .connecting, .waitingForHead:
            attemptFailed(error)
        case .responseHead where !headCommitted:
            suspended = false
            attemptFailed(error)
        default:
            if exchange.headSent { truncate(error) } else { respondWithError(error, outcome: .failed) }
        }
    }

    func schedule(after delay: Duration, _ body: @escaping () -> Void) -> ExchangeTimer {
        schedule(after: delay, .plain(body))
    }

    func schedule(after delay: Duration, handing body: @escaping (Exchange) -> Void, to exchange: Exchange) -> ExchangeTimer {
        schedule(after: delay, .handing(body))
    }

    private func schedule(after delay: Duration, _ body: ExchangeTimerBody) -> ExchangeTimer {
        guard phase != .ended,
              // The timer belongs to the filter that asked for it: what its body decides is that filter's.
              let timer = deadlines.schedule(in: worker.deadlines, after: delay, owner: runner.running, runner: self, body)
        else { return ExchangeTimer(cancel: {}) }
        return timer
    }

    /// A timer of this exchange is due (`DeadlineQueue`): runs its body as the filter that scheduled it.
    func runTimer(owner: Int?, _ body: ExchangeTimerBody) {
        guard phase != .ended else { return }
        let exchange = exchange
        let call: () -> Void
        switch body {
        case .plain(let plain): call = plain
        case .handing(let handing): call = { handing(exchange) }
        }
        if let owner { _ = run(owner, call) } else { call() }
    }

    func runOnLoop(_ body: @escaping @Sendable () -> Void) {
        worker.loop.execute(body)
    }

    func sendComment(_ text: String) {
        guard phase != .ended else { return }
        if !exchange.headSent {
            var head = HTTPResponseHead(status: 200)
            head.headers.set("content-type", "text/event-stream")
            head.headers.set("cache-control", "no-cache")
            applyResponseHeaders(to: &head)
            head.headers.set("x-request-id", exchange.id)
            client.sendHead(head, requestMethod: exchange.request.method, clientVersion: clientVersion,
                            clientKeepAlive: clientKeepAlive && downstream.keepAliveAllowed, passContentLength: false,
                            forComment: true)
            exchange.headSent = true
            exchange.timings.firstByteToClient = clock.now()
        }
        guard client.canAppendEvent else { return }
        // Events are forwarded as they arrive unless the chain rewrites them: when the client already
        // has part of one, a comment line here would land inside it and corrupt it.
        if headCommitted, !chain.rewritesEvents, tap?.hasPartialEvent == true { return }
        send(Array(": \(text)\n\n".utf8))
    }

    var attemptInFlight: Bool {
        switch phase {
        case .connecting, .waitingForHead, .responseHead, .streaming: return true
        case .request, .waitingForBody, .requestBody, .selecting, .upstreamError, .retryWait, .ended: return false
        }
    }

    var clientBacklog: Int { client.backlog }

    /// The phase in words, for `/admin/streams`: queued (a request filter holds it, e.g. admission),
    /// filtering, reading_body, connecting, waiting_for_head, streaming, paused (the client is slow),
    /// retry_wait, ended.
    var stateName: String {
        switch phase {
        case .request, .requestBody, .selecting: return suspended ? "queued" : "filtering"
        case .waitingForBody: return "reading_body"
        case .connecting: return "connecting"
        case .waitingForHead: return "waiting_for_head"
        case .upstreamError: return suspended ? "retry_wait" : "upstream_error"
        case .responseHead: return "response_head"
        case .retryWait: return "retry_wait"
        case .streaming: return detachment != nil ? "detached" : client.isPaused ? "paused" : "streaming"
        case .ended: return "ended"
        }
    }

    var loopLag: Duration { worker.loopLag }
}

// MARK: - Without the upstream's client, or without an upstream

extension ProxyExchange {
    /// The client left mid-stream: asks the filters that may keep the upstream
    /// (`Filter.onClientLeft`, reverse order). When one answers `.keepUpstream`, the exchange goes
    /// on without a client and answers true: the caller then leaves it running. Writes to the
    /// client's socket do nothing once the connection closed it, so the per-event path is the same
    /// as with a client; the connection is never called again (`finish`).
    fileprivate func keepUpstreamWithoutClient() -> Bool {
        guard headCommitted, !servesOwnStream, let upstream else { return false }
        var keep = false
        let filters = chain.filters
        for i in chain.clientLeftFilters.reversed() {
            let (answer, interrupted) = run(i) { filters[i].onClientLeft(exchange) }
            // A hook failed the exchange: it ended (or is ending) as the fail said.
            if interrupted || phase == .ended { return phase == .ended }
            if answer == .keepUpstream { keep = true }
        }
        guard keep else { return false }
        let now = clock.now()
        detachment = ClientDetachment(bytesToClient: client.bytesWritten, at: now)
        if client.isPaused {
            exchange.counters.clientPausedTime += client.endPause(at: now)
            upstream.setReading(true)
        }
        downstream.drainWanted = false
        return true
    }

    /// The ending of an exchange whose client left while a filter kept its upstream: the outcome
    /// says how the upstream ended (`ClientDetachment`), the bytes the client got are those it had
    /// when it left, and the connection, which is gone, is not told.
    fileprivate func finishWithoutClient(_ detachment: ClientDetachment, reached: Outcome) {
        self.detachment = nil
        exchange.setBytesToClient(detachment.bytesToClient)
        finish(detachment.outcome(after: reached), keepAlive: false, notifyDownstream: false)
    }

    func beginOwnStream(_ head: HTTPResponseHead) -> Bool {
        guard suspended, !exchange.headSent, upstream == nil else { return false }
        let filter: Int
        switch phase {
        case .request(let i), .requestBody(let i): filter = i
        default: return false
        }
        suspended = false
        servesOwnStream = true
        runner.decided(by: filter)
        var head = head
        head.headers.remove("content-length")
        applyResponseHeaders(to: &head)
        head.headers.set("x-request-id", exchange.id)
        client.sendHead(head, requestMethod: exchange.request.method, clientVersion: clientVersion,
                        clientKeepAlive: clientKeepAlive && downstream.keepAliveAllowed, passContentLength: false)
        exchange.response = head
        exchange.headSent = true
        exchange.isEventStream = head.headers["content-type"]?.lowercased().hasPrefix("text/event-stream") == true
        exchange.timings.firstByteToClient = clock.now()
        phase = .streaming
        return true
    }

    func writeOwnStream(_ bytes: [UInt8]) {
        guard servesOwnStream, phase == .streaming, !bytes.isEmpty else { return }
        send(bytes)
    }

    func endOwnStream() {
        guard servesOwnStream, phase == .streaming else { return }
        if client.finish() {
            if !incomingBody.complete { client.forceClose() }
            finish(Outcome(kind: .completed, status: exchange.response?.status, decidedBy: decidedBy), keepAlive: client.keepAlive)
        } else {
            truncate(ProxyError(.internalError, "the stream could not be ended properly"))
        }
    }
}

// MARK: - Hedges: attempts racing the exchange's own

extension ProxyExchange: RacingAttemptOwner {
    /// Starts a hedge (see `Exchange.startHedge`): another attempt at the request on an endpoint of
    /// the group this exchange has not tried, chosen among the candidates the current attempt's
    /// `selectUpstream` hooks left, by the group's balance policy. Only while an attempt is in
    /// flight and nothing went to the client, and only for a request whose body was read whole and
    /// kept (it is sent again). False when no hedge started.
    func startHedge() -> Bool {
        guard attemptInFlight, !exchange.headSent, !servesOwnStream, incomingBody.complete, canReplay,
              let current = exchange.endpoint else { return false }
        let tried = exchange.triedEndpoints
        let fresh = candidates.filter { $0.id != current.id && !tried.contains($0.id) }
        guard let chosen = route.group.pick(from: fresh, tried: []),
              let endpoint = route.group.endpoints.first(where: { $0.id == chosen.id }) else { return false }
        let racer = RacingAttempt(owner: self, candidate: chosen, endpoint: endpoint, loop: worker.loop, dialect: exchange.dialect,
                                  connectTimeout: route.group.connectTimeout, startedAt: clock.now())
        guard racer.start(method: exchange.request.method) else { return false }
        worker.pool.streamStarted(endpoint.id)
        exchange.triedEndpoints.append(chosen.id)
        exchange.hedges.started += 1
        racers.append(racer)
        return true
    }

    var hedgesInFlight: Int { racers.count }

    func racerConnected(_ racer: RacingAttempt) {
        guard let connection = racer.connection else { return }
        racer.bodyFraming = writeRequest(on: connection)
        racer.requestWritten(at: clock.now())
    }

    func racerFailed(_ racer: RacingAttempt, _ error: ProxyError) {
        guard let index = racers.firstIndex(where: { $0 === racer }) else { return }
        racers.remove(at: index)
        worker.pool.streamEnded(racer.endpoint.id)
        exchange.hedges.failed += 1
        guard phase != .ended else { return }
        runAttemptDropped(racer.candidate, error)
    }

    func racerReachedFirstToken(_ racer: RacingAttempt) {
        guard let index = racers.firstIndex(where: { $0 === racer }) else { return racer.cancel() }
        guard phase != .ended, !headCommitted, !exchange.headSent else {
            racers.remove(at: index)
            worker.pool.streamEnded(racer.endpoint.id)
            return racer.cancel()
        }
        // The exchange's own attempt lost: cancelled at once, never pooled mid-response.
        let lost = exchange.endpoint
        abandonCurrentAttempt()
        exchange.hedges.won += 1
        if let lost, runAttemptDropped(lost, nil) { return }
        // The other hedges lost too.
        racers.removeAll { $0 === racer }
        cancelRacers()
        takeOver(racer)
    }

    /// The current attempt failed (`error`) while hedges race it: the most advanced hedge becomes
    /// the exchange's attempt, as far as it got, and the failure is reported for its own endpoint
    /// (`onAttemptDropped`), not as the exchange's (`onUpstreamError`): the pair counts as one attempt.
    fileprivate func adoptRacer(afterFailure error: ProxyError) {
        let failed = exchange.endpoint
        abandonCurrentAttempt()
        if let failed, runAttemptDropped(failed, error) { return }
        guard !racers.isEmpty else {
            // A hook's doing: the hedges went meanwhile. The failure stands as the attempt's.
            pendingUpstreamError = error
            return runUpstreamErrorFilters(from: chain.filters.count - 1)
        }
        let racer = racers.first { $0.stage == .receiving } ?? racers.first { $0.stage == .waitingForHead } ?? racers[0]
        racers.removeAll { $0 === racer }
        exchange.hedges.won += 1
        takeOver(racer)
    }

    /// Drops the current attempt and what it received: its connection is reset, its response
    /// forgotten. The exchange waits (as between retries) until a hedge takes over.
    private func abandonCurrentAttempt() {
        connectTimer?.cancel()
        if let upstream {
            self.upstream = nil
            upstream.abort()
        }
        suspended = false
        forgetAttempt()
    }

    /// Forgets what the attempt that ended received (its response, held bytes, tap, tokens and
    /// timings) and waits for the next one, a retry or a hedge taking over.
    private func forgetAttempt() {
        exchange.response = nil
        heldBody = []
        tap = nil
        // What ended the last attempt did not decide the exchange: it goes on.
        runner.decidedBy = nil
        exchange.tokens = StreamTokenAccount(dialect: exchange.dialect)
        exchange.timings.responseHead = nil
        exchange.timings.firstToken = nil
        exchange.timings.lastToken = nil
        releaseActive()
        phase = .retryWait
    }

    /// Tells the filters (`onAttemptDropped`, reverse order) that the attempt on `endpoint` ended
    /// without being the exchange's response. True when a hook moved the exchange on.
    @discardableResult
    private func runAttemptDropped(_ endpoint: EndpointCandidate, _ error: ProxyError?) -> Bool {
        let filters = chain.filters
        var i = filters.count - 1
        while i >= 0 {
            if chain.hooks[i].contains(.onAttemptDropped),
               run(i, { filters[i].onAttemptDropped(exchange, endpoint, error) }).interrupted || phase == .ended { return true }
            i -= 1
        }
        return false
    }

    /// Cancels every racing attempt: each lost.
    private func cancelRacers() {
        let lost = racers
        racers = []
        for racer in lost {
            racer.cancel()
            worker.pool.streamEnded(racer.endpoint.id)
        }
    }

    /// Makes `racer` the exchange's attempt, at the stage it reached: its connection and endpoint
    /// become the exchange's, the per-attempt hooks run, and what it received is replayed through
    /// the chain as if it arrived now (head, body, and the end or the cut that followed).
    private func takeOver(_ racer: RacingAttempt) {
        let stage = racer.stage
        let framing = racer.bodyFraming
        let connectedAt = racer.connectedAt
        guard let connection = racer.handOver() else {
            return attemptFailed(ProxyError(.upstreamReset, "the hedged attempt ended", source: .upstream))
        }
        connection.delegate = self
        upstream = connection
        endpoint = racer.endpoint
        exchange.endpoint = racer.candidate
        countedActive = racer.endpoint.id
        freshConnectionRetryUsed = true
        exchange.timings.attemptStart = racer.startedAt
        if stage == .connecting {
            requestSentToUpstream = false
            phase = .connecting
            armConnectTimer()
            return
        }
        requestSentToUpstream = true
        upstreamBodyFraming = framing
        exchange.timings.upstreamConnected = connectedAt
        phase = .waitingForHead
        if runUpstreamConnectedHooks() { return }
        guard stage == .receiving, let head = racer.head else { return }
        upstreamHead(connection, head)
        if !racer.received.isEmpty, upstream === connection, phase != .ended {
            racer.received.withUnsafeBytes { upstreamBody(connection, $0) }
        }
        guard upstream === connection, phase != .ended else { return }
        if racer.responseEnded {
            upstreamEnd(connection)
        } else if let cut = racer.truncatedBeforeHandOver {
            // Its stream was cut after it won: reported as this exchange's cut, never replaced.
            self.upstream = nil
            connection.abort()
            if headCommitted { truncate(cut) } else { attemptFailed(cut) }
        }
    }
}
