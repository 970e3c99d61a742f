import Logging
import SluiceFilterAPI
import SluiceIO
import Synchronization

/// One event-loop thread with its own listeners (each accepting on a socket all workers share), client connections, exchanges and
/// upstream pool. Everything here runs on the worker's loop thread unless marked otherwise.
final class Worker: @unchecked Sendable {
    let index: Int
    let loop: EventLoop
    let pool: UpstreamPool
    let clock: any SluiceClock
    /// The timers of this worker's exchanges, on one libevent timer.
    let deadlines: DeadlineQueue
    let logger: Logger
    /// Not retained, and not a checked unowned reference either: the engine owns its workers and
    /// stops them before it goes, and the checked kind cost a strong retain and release at each
    /// reach, several per request.
    private unowned(unsafe) let engine: Engine
    /// Listeners by their identity (see `Engine.listenerIdentity`).
    private var listeners: [String: Listener] = [:]
    private var connections: [ObjectIdentifier: DownstreamConnection] = [:]
    // The three below are touched on every request, on the loop thread only and never across a
    // call that could reach them again: not checked for exclusivity at run time.
    /// Connections without an exchange, oldest first: the first to close at max_connections.
    @exclusivity(unchecked) private var idle = IdleConnections()
    @exclusivity(unchecked) private var exchanges = LiveExchanges()
    @exclusivity(unchecked) private(set) var isDraining = false
    /// How late the loop is: how late it ran its last lag probe, or, when the next probe is overdue
    /// by more than that, by how much (a loop stuck in one callback never runs its probe, and this
    /// keeps growing). Any thread: `/metrics` and `/healthz` read it from the control thread.
    var loopLag: Duration {
        let measured = loopLagNanoseconds.load(ordering: .relaxed)
        let due = lagProbeDueNanoseconds.load(ordering: .relaxed)
        let now = Int64(clamping: SystemClock().now().nanoseconds)
        let overdue = due > 0 && now > due ? now - due : 0
        return .nanoseconds(max(measured, overdue))
    }
    private let loopLagNanoseconds = Atomic<Int64>(0)
    /// When the next probe should run, on `SystemClock`; 0 before the probe starts.
    private let lagProbeDueNanoseconds = Atomic<Int64>(0)
    private var lagProbe: SluiceIO.Timer?
    private var lagProbeDue: MonotonicInstant? {
        didSet { lagProbeDueNanoseconds.store(Int64(clamping: lagProbeDue?.nanoseconds ?? 0), ordering: .relaxed) }
    }
    static let lagProbeInterval: Duration = .milliseconds(100)

    init(index: Int, engine: Engine, clock: any SluiceClock, logger: Logger) {
        self.index = index
        self.engine = engine
        self.clock = clock
        self.logger = logger
        loop = EventLoop()
        pool = UpstreamPool(loop: loop, clock: clock)
        deadlines = DeadlineQueue(loop: loop, clock: clock)
    }

    /// Starts measuring event-loop lag: a timer asks to run every 100 ms and records how late it ran.
    /// Loop thread (or before the loop runs).
    func startLagProbe() {
        let probe = SluiceIO.Timer(loop: loop) { [unowned self] timer in
            let now = SystemClock().now()
            if let due = self.lagProbeDue { self.loopLagNanoseconds.store(now.since(due).nanosecondsClamped, ordering: .relaxed) }
            self.lagProbeDue = now + Self.lagProbeInterval
            timer.arm(after: Self.lagProbeInterval)
        }
        lagProbe = probe
        lagProbeDue = SystemClock().now() + Self.lagProbeInterval
        probe.arm(after: Self.lagProbeInterval)
    }

    /// The chain version new exchanges start on.
    /// The engine's current version, as new requests and connections take it. Loop thread: it is
    /// kept here and fetched again (under the engine's lock) only when the engine's number moved,
    /// since a lock per request was about a hundred instructions twice.
    var currentVersion: ChainVersion {
        let number = engine.versionNumber.load(ordering: .acquiring)
        if let cachedVersion, cachedVersion.number == number { return cachedVersion }
        let current = engine.currentVersion
        cachedVersion = current
        return current
    }
    @exclusivity(unchecked) private var cachedVersion: ChainVersion?

    /// A reload replaced the version: the worker lets go of the one it kept, so an idle worker does
    /// not hold the old filters and shared store alive until its next request. Loop thread.
    func forgetReplacedVersion() {
        cachedVersion = nil
    }

    /// Binds a listener on this worker. Called before the loop runs, or on the loop thread.
    func listen(identity: String, name: String, socket: ListeningSocket, tls: TLSContext?) throws {
        let listener = try Listener(loop: loop, socket: socket)
        engine.prepareForDescriptorExhaustion(listener)
        listener.onAccept = { [unowned self] fd, peer in self.accepted(fd, peer: peer, listenerName: name, tls: tls) }
        listeners[identity] = listener
    }

    /// A new client: within `max_connections_per_ip` for its address, and within `max_connections`,
    /// near which this worker's oldest idle connection is closed to make room. A client refused is
    /// closed at once, so the backlog does not fill. Loop thread.
    private func accepted(_ fd: Int32, peer: PeerAddress, listenerName: String, tls: TLSContext?) {
        let limits = currentVersion.file.limits
        var counted = false
        if limits.maxConnectionsPerIP > 0 {
            guard engine.connectionsPerAddress.take(peer.host, limit: limits.maxConnectionsPerIP) else {
                sluiceCloseSocket(fd)
                engine.metrics.connectionsRefused(.perIP)
                return
            }
            counted = true
        }
        // Near max_connections (within 1% of it, at least one), an idle connection of this worker
        // (a keep-alive one between requests, or one that has not sent its request yet) makes room,
        // so that a new client still gets in, on whichever worker it lands.
        let limit = limits.maxConnections
        if engine.openConnectionCount >= limit - max(1, limit / 100), let oldest = idle.first,
           clock.now().since(oldest.idleSince) >= Self.idleAgeToMakeRoom {
            oldest.close()
            engine.metrics.idleConnectionClosed()
        }
        let admitted = engine.admitConnection()
        guard admitted else {
            if counted { engine.connectionsPerAddress.release(peer.host) }
            sluiceCloseSocket(fd)
            engine.metrics.connectionsRefused(.maxConnections)
            return
        }
        let connection = DownstreamConnection(worker: self, fd: fd, peer: peer, listenerName: listenerName, tls: tls,
                                              countedPerAddress: counted)
        connections[ObjectIdentifier(connection)] = connection
        connection.idleSince = clock.now()
        idle.append(connection)
    }

    /// How long a connection must have been idle before it may be closed to make room: one that
    /// went idle a moment ago likely carries its client's next request already.
    static let idleAgeToMakeRoom: Duration = .seconds(1)

    /// Closes the listener with this identity; connections it accepted go on. Loop thread.
    func closeListener(identity: String) {
        listeners.removeValue(forKey: identity)?.close()
    }

    func connectionClosed(_ connection: DownstreamConnection) {
        idle.remove(connection)
        if connections.removeValue(forKey: ObjectIdentifier(connection)) != nil {
            engine.openConnections.subtract(1, ordering: .relaxed)
            if connection.countedPerAddress { engine.connectionsPerAddress.release(connection.peerHost) }
        }
    }

    /// The connection started an exchange: it is not idle any more.
    func connectionBusy(_ connection: DownstreamConnection) {
        idle.remove(connection)
    }

    /// The connection's exchange ended and it waits for the next request (keep-alive).
    func connectionIdle(_ connection: DownstreamConnection) {
        guard !connection.isIdleListed else { return }
        connection.idleSince = clock.now()
        idle.append(connection)
    }

    func exchangeStarted(_ exchange: ProxyExchange) {
        exchanges.insert(exchange)
        engine.activeExchanges.add(1, ordering: .relaxed)
        exchange.version.liveExchanges.add(1, ordering: .relaxed)
        exchange.metrics.activeStreams.increment()
    }

    /// Counts the exchange's end in the metrics and writes its access log line.
    func exchangeEnded(_ exchange: ProxyExchange, _ outcome: Outcome) {
        exchanges.remove(exchange)
        engine.activeExchanges.subtract(1, ordering: .relaxed)
        exchange.version.liveExchanges.subtract(1, ordering: .relaxed)
        exchange.metrics.activeStreams.decrement()
        engine.metrics.exchangeEnded(exchange.exchange, outcome, route: exchange.metrics)
        // Building an entry costs a few percent of a short request; skip it while the log is off.
        if let log = engine.accessLog, log.isEnabled {
            log.record(AccessLogEntry(exchange: exchange.exchange, outcome: outcome, chainVersion: exchange.version.number))
        }
    }

    /// A request answered before any route took it (no route, malformed, too slow).
    func answeredWithoutRoute(_ error: ProxyError) {
        engine.metrics.answeredWithoutRoute(error)
    }

    /// The live exchanges of this worker as `/admin/streams` rows. Loop thread.
    func streamSnapshots() -> [String] {
        let now = clock.now()
        return exchanges.all.map { StreamListing.json(of: $0, now: now) }
    }

    /// Stops accepting and stops keep-alive; exchanges in flight go on. Loop thread.
    func beginDrain() {
        isDraining = true
        for l in listeners.values { l.close() }
        listeners = [:]
        for c in Array(connections.values) { c.closeIfIdle() }
    }

    /// Ends every exchange in flight with `error`: streams get it as their last SSE event (in their
    /// client's dialect), exchanges still waiting get it as an error response; upstreams are
    /// cancelled. Loop thread.
    func failAllExchanges(_ fallback: ProxyError) {
        for x in exchanges.all { x.fail(x.drainPolicy?.shutdownError ?? fallback) }
    }

    /// Closes everything now. Loop thread.
    func closeAll() {
        for l in listeners.values { l.close() }
        listeners = [:]
        lagProbe?.cancel()
        lagProbeDue = nil
        for c in Array(connections.values) { c.close() }
        // What is left has no connection: upstreams a filter kept running after their client left.
        for x in exchanges.all { x.fail(ProxyError(.serverShutdown, "the server is shutting down")) }
        pool.closeAll()
        deadlines.closeAll()
    }

    var openConnections: Int { connections.count }
    var liveExchanges: Int { exchanges.count }
}

/// Exchanges hop to their worker's loop through it (`Exchange.resumeFromAnyThread`).
extension EventLoop: ExchangeLoop {}
