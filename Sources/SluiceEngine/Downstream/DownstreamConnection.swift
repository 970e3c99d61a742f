import SluiceFilterAPI
import SluiceHTTP
import SluiceIO

/// One client connection: parses requests (keep-alive and pipelining, one exchange at a time),
/// hands each to a `ProxyExchange`, and notices at once when the client leaves. Loop thread only.
final class DownstreamConnection {
    let socket: BufferEvent
    private let worker: Worker
    private let peer: PeerAddress
    private let listenerName: String
    private let secure: Bool
    /// Checked for exclusivity at run time: it parses with the exchange's hooks inside its callbacks.
    private var parser: HTTPRequestParser
    // The state below is loop-thread only, touched on every request and never passed inout across a
    // call that could reach it again: not checked for exclusivity at run time.
    @exclusivity(unchecked) private var exchange: ProxyExchange?
    /// The keep-alive timeout: runs while the connection waits for its next request, stopped from
    /// the first byte of a request on.
    @exclusivity(unchecked) private var idle = IdleTimeout()
    @exclusivity(unchecked) private var headerTimer: SluiceIO.Timer?
    @exclusivity(unchecked) private var parsing = false
    /// The exchange ended inside a parser callback; its keep-alive answer waits for `parse` to return.
    @exclusivity(unchecked) private var finishedDuringParse: Bool?
    /// A response of the proxy's own, decided while parsing, to be written once the read is parsed
    /// (`answerAfterThisRead`).
    @exclusivity(unchecked) private var pendingAnswer: ((_ requestRead: Bool) -> Bool)?
    @exclusivity(unchecked) private var closed = false
    /// The client shut down its sending side after a complete request: the response goes on, and
    /// the connection closes after it.
    @exclusivity(unchecked) private var clientFinishedSending = false
    /// The HTTP version of the request in progress.
    @exclusivity(unchecked) private var requestVersion: HTTPVersion = .http1_1
    /// True when this connection counts against `limits.max_connections_per_ip`.
    let countedPerAddress: Bool
    /// Links of the worker's `IdleConnections` list; only that list touches them, on the loop
    /// thread, twice per request: not checked for exclusivity at run time.
    @exclusivity(unchecked) var isIdleListed = false
    /// When the connection last became idle (accepted, or its exchange ended), on the worker's clock.
    @exclusivity(unchecked) var idleSince = MonotonicInstant(nanoseconds: 0)
    @exclusivity(unchecked) unowned(unsafe) var idlePrevious: DownstreamConnection?
    @exclusivity(unchecked) unowned(unsafe) var idleNext: DownstreamConnection?
    /// False once the process is draining, or once the client finished sending: responses then
    /// carry `Connection: close`.
    var keepAliveAllowed: Bool { !worker.isDraining && !clientFinishedSending }
    /// The client's IP address as text.
    var peerHost: String { peer.host }
    /// The client's bytes are being parsed: an exchange's hooks run inside a parser callback.
    var isParsing: Bool { parsing }
    /// The exchange paused its upstream for this client's backlog and waits to hear it drained. The
    /// socket reports every drain (its low watermark is 0 between pauses), one per forwarded event;
    /// only these reach the exchange, without taking a reference to it each time.
    @exclusivity(unchecked) var drainWanted = false

    /// For an answer decided while parsing, before the request's body was read (a refusal at the
    /// head): `write` runs once the bytes of this read have been parsed, with whether the request
    /// was read whole by then, writes the response, and answers whether the connection stays. It
    /// replaces the keep-alive answer of the exchange's `exchangeFinished`. Loop thread, while
    /// `isParsing` only.
    func answerAfterThisRead(_ write: @escaping (_ requestRead: Bool) -> Bool) {
        precondition(parsing, "answerAfterThisRead outside a parser callback")
        pendingAnswer = write
    }

    init(worker: Worker, fd: Int32, peer: PeerAddress, listenerName: String, tls: TLSContext?, countedPerAddress: Bool) {
        self.worker = worker
        self.peer = peer
        self.countedPerAddress = countedPerAddress
        self.listenerName = listenerName
        self.secure = tls != nil
        self.socket = BufferEvent(loop: worker.loop, acceptedSocket: fd, tls: tls)
        self.parser = HTTPRequestParser(limits: worker.currentVersion.limits)
        // Bound what a client can pile up unread (pipelined requests behind a long stream).
        socket.setReadHighWatermark(max(64 * 1024, worker.currentVersion.limits.maxHeaderBytes * 2))
        socket.onReadable = { [unowned self] in self.readable() }
        socket.onWritable = { [unowned self] in if self.drainWanted { self.exchange?.clientDrained() } }
        socket.onCondition = { [unowned self] condition in self.condition(condition) }
        // From the accept, the first request head must be complete within client_header_timeout,
        // so a connection that never sends a byte does not live as long as an idle keep-alive one.
        armHeaderTimer()
    }

    /// Starts the keep-alive timeout (see `IdleTimeout` for why its timer is left armed).
    private func armIdleTimer() {
        idle.start(worker.currentVersion.clientKeepAliveTimeout, now: worker.clock.now()) {
            SluiceIO.Timer(loop: worker.loop) { [unowned self] _ in self.idleTimerFired() }
        }
    }

    /// Closes a connection idle for its whole keep-alive timeout.
    private func idleTimerFired() {
        guard exchange == nil, !closed else { return }
        if idle.fired(now: worker.clock.now()) { close() }
    }

    private func readable() {
        guard !closed else { return }
        defer { watchHeaderTime() }
        parsing = true
        defer { parsing = false }
        do {
            try socket.consumeInput { bytes in
                if closed || parser.isComplete { return 0 }
                return try parser.parse(bytes) { event in
                    switch event {
                    case .head(let head): self.startExchange(head)
                    case .body(let body): self.exchange?.clientBody(body)
                    case .end: self.exchange?.clientBodyEnd()
                    }
                }
            }
        } catch let error as HTTPParseError {
            pendingAnswer = nil
            rejectMalformed(error)
            return
        } catch {
            close()
            return
        }
        if let answer = pendingAnswer {
            pendingAnswer = nil
            let keepAlive = answer(parser.isComplete)
            finishedDuringParse = nil
            afterExchange(keepAlive: keepAlive)
        } else if let keepAlive = finishedDuringParse {
            finishedDuringParse = nil
            afterExchange(keepAlive: keepAlive)
        }
    }

    /// A request head has started to arrive: it must be complete within `client_header_timeout`
    /// (a slowloris defence); the keep-alive idle timer no longer applies.
    private func watchHeaderTime() {
        guard !closed, exchange == nil, !parser.isIdle, headerTimer?.isArmed != true else { return }
        idle.stop()
        armHeaderTimer()
    }

    /// At `client_header_timeout`: a connection that sent nothing is closed, one with part of a
    /// head gets 408.
    private func armHeaderTimer() {
        let timer = headerTimer ?? SluiceIO.Timer(loop: worker.loop) { [unowned self] _ in
            guard self.exchange == nil, !self.closed else { return }
            if self.parser.isIdle {
                self.close()
            } else {
                self.rejectMalformed(HTTPParseError(.badRequest, "the request head took too long"), status: 408)
            }
        }
        headerTimer = timer
        timer.arm(after: worker.currentVersion.file.limits.clientHeaderTimeout)
    }

    private func startExchange(_ head: HTTPRequestHead) {
        idle.stop()
        headerTimer?.cancel()
        worker.connectionBusy(self)
        requestVersion = head.version
        if head.headers.containsToken("100-continue", in: .expect) && head.version == .http1_1 {
            socket.write("HTTP/1.1 100 Continue\r\n\r\n")
        }
        let version = worker.currentVersion
        let requestID = RequestID.make(propagating: head.headers[.xRequestID])
        guard let route = version.route(for: head) else {
            let error = ProxyError(.notFound, "no route matches \(head.method) \(head.path)")
            respondDirect(error, head: head, requestID: requestID)
            return
        }
        let dialect: StreamDialect
        switch route.dialect {
        case .openai: dialect = .openai
        case .anthropic: dialect = .anthropic
        case .auto: dialect = StreamDialect.forPath(head.path)
        }
        let x = Exchange(id: requestID, request: head,
                         client: ClientInfo(address: peer.host, port: peer.port, secure: secure, listener: listenerName),
                         route: route.info, dialect: dialect, clock: worker.clock, worker: worker.index)
        let proxy = ProxyExchange(exchange: x, downstream: self, worker: worker, version: version, route: route,
                                  clientVersion: head.version, clientKeepAlive: head.keepAlive, bodyFraming: Self.framing(of: head))
        exchange = proxy
        worker.exchangeStarted(proxy)
        proxy.start()
    }

    /// The body framing of a request head the parser accepted (it rejected every ambiguous shape).
    /// Read from the head because the parser is busy while it reports the head.
    static func framing(of head: HTTPRequestHead) -> BodyFraming {
        if head.headers.contains(.transferEncoding) { return .chunked }
        // The usual single value needs no splitting, and no String.
        if let n = head.headers.integerValue(.contentLength) { return .contentLength(n) }
        if let length = head.headers[.contentLength] {
            let first = length.split(separator: ",").first.map { $0.trimmingSpaces } ?? ""
            return .contentLength(Int(first) ?? 0)
        }
        return .none
    }

    /// Answers without a chain (no route), inside the head's parser callback. Its body, if any, is
    /// read and dropped: the connection stays when the read held all of it, as after a refusal.
    private func respondDirect(_ error: ProxyError, head: HTTPRequestHead, requestID: String) {
        worker.answeredWithoutRoute(error)
        pendingAnswer = { [unowned self] requestRead in
            let keepAlive = requestRead && head.keepAlive && keepAliveAllowed
            write(error, requestID: requestID, keepAlive: keepAlive, clientVersion: head.version)
            return keepAlive
        }
    }

    private func rejectMalformed(_ error: HTTPParseError, status: Int? = nil) {
        let status = status ?? error.status
        if let exchange {
            // The request was already under way: end it as a client failure.
            exchange.clientGone()
            self.exchange = nil
            if exchange.exchange.headSent {
                close()
                return
            }
        }
        let kind: ProxyError.Kind = status == 413 ? .requestTooLarge : status == 408 ? .clientTimeout : .badRequest
        answerAndClose(ProxyError(kind, error.reason, source: .client, status: status), requestID: nil)
    }

    /// Answers with `error` as an OpenAI-shaped JSON response and closes once it is written: for
    /// requests no chain handles (no route, malformed, too slow), whose body was not read.
    private func answerAndClose(_ error: ProxyError, requestID: String?) {
        worker.answeredWithoutRoute(error)
        socket.write(error.closingResponseBytes(requestID: requestID))
        closeAfterFlush()
    }

    private func write(_ error: ProxyError, requestID: String?, keepAlive: Bool, clientVersion: HTTPVersion) {
        socket.write(error.responseBytes(requestID: requestID, keepAlive: keepAlive, clientVersion: clientVersion))
    }

    private func closeAfterFlush() {
        closed = true
        idle.cancel()
        headerTimer?.cancel()
        socket.closeAfterFlush()
        worker.connectionClosed(self)
    }

    /// Called by the exchange when it has ended and everything for it is queued for writing.
    func exchangeFinished(_ finished: ProxyExchange, keepAlive: Bool) {
        guard finished === exchange else { return }
        if parsing {
            finishedDuringParse = keepAlive
        } else {
            afterExchange(keepAlive: keepAlive)
        }
    }

    private func afterExchange(keepAlive: Bool) {
        exchange = nil
        drainWanted = false
        guard !closed else { return }
        if !keepAlive || worker.isDraining || clientFinishedSending {
            closeAfterFlush()
            return
        }
        parser.reset()
        worker.connectionIdle(self)
        armIdleTimer()
        if socket.inputLength > 0 {
            // A pipelined request is already waiting.
            readable()
        }
    }

    private func condition(_ condition: BufferEventCondition) {
        switch condition {
        case .connected:
            break
        case .endOfStream:
            clientEnded()
        case .failure:
            close()
        }
    }

    /// The client shut down its sending side, or closed (the two look the same until something is
    /// written to it). With a whole request read and no response byte sent yet, that is taken for a
    /// half-close: the response goes on, and the connection closes after it. Otherwise the client
    /// has left, and its exchange is cancelled: with no exchange or a request not complete, there
    /// is nothing to answer; once the response has started, a client that ends its side
    /// mid-response has gone, as a rule (and a stalled stream would give no chance to tell).
    private func clientEnded() {
        guard let exchange, parser.isComplete, !exchange.exchange.headSent, !closed else {
            close()
            return
        }
        clientFinishedSending = true
        // A client that closed entirely answers the next bytes it gets with a reset. An interim
        // 102 (which HTTP/1.1 clients must accept and skip) is such bytes, so a client that left
        // still cancels its upstream at once; the watch catches the reset while nothing reads.
        // For HTTP/1.0, which allows no interim answer, the response head is the first such bytes.
        socket.watchForPeerReset { [unowned self] in self.close() }
        if requestVersion == .http1_1 {
            socket.write("HTTP/1.1 102 Processing\r\n\r\n")
        }
    }

    /// Closes now; an exchange in flight is cancelled (its upstream too).
    func close() {
        guard !closed else { return }
        closed = true
        pendingAnswer = nil
        idle.cancel()
        headerTimer?.cancel()
        if let exchange {
            self.exchange = nil
            exchange.clientGone()
        }
        socket.close()
        worker.connectionClosed(self)
    }

    /// For shutdown: close the connection if no exchange is using it.
    func closeIfIdle() {
        if exchange == nil { close() }
    }
}
