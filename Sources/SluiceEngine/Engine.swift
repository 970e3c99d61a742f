import Logging
import SluiceConfig
import SluiceFilterAPI
import SluiceHTTP
import SluiceIO
import SluiceMock
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// How to run an engine, beyond the filter file.
public struct EngineOptions: Sendable {
    /// Worker threads, each with its own event loop; default: the number of cores.
    public var workers: Int = EngineOptions.coreCount
    /// Replaces the address of the file's first listener (`--listen`).
    public var listen: (host: String, port: Int)?
    /// Replaces the admin address (`--admin`).
    public var admin: (host: String, port: Int)?
    /// How long streams in flight may run on after SIGTERM/SIGINT.
    public var drainTimeout: Duration = .seconds(30)
    public var clock: any SluiceClock = SystemClock()
    public var logger = Logger(label: "sluice")
    /// The access log used when the filter file has no `access_log` section: JSON lines on stdout.
    public var accessLog = AccessLogSpec()
    /// `/healthz` answers 503 once a worker's event loop is this late (stuck in one callback).
    public var stuckWorkerThreshold: Duration = .seconds(10)
    /// How often the console's followers (`/admin/events`) get a snapshot.
    public var consoleInterval: Duration = .milliseconds(500)
    /// How often the console keeps a reading for its 15-minute history.
    public var consoleHistoryInterval: Duration = .seconds(10)

    public init() {}

    public static var coreCount: Int {
        let n = Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))
        return max(1, n)
    }
}

/// The proxy: workers, listeners, the admin listener, the in-process mock upstreams, and the chain
/// version in force. `start()` returns once every socket is bound; `run()` blocks until shutdown.
public final class Engine: @unchecked Sendable {
    public let registry: FilterRegistry
    public let options: EngineOptions
    private let initialFile: FilterFile
    /// Listener identities bound now, in file order, with their ports. Control thread after start.
    private var boundListeners: [(identity: String, port: Int)] = []
    private let reloadLock = Mutex(())
    /// Reloads by result.
    public let reloadCounts = Mutex<(succeeded: Int, failed: Int)>((0, 0))
    let metrics: ProxyMetrics
    /// Set in `start()`; nil before.
    private(set) var accessLog: AccessLog?
    /// Versions a reload replaced, while exchanges may still run on them.
    private let previousVersions = Mutex<[WeakChainVersion]>([])
    private var workers: [Worker] = []
    let control = EventLoop()
    private var admin: AdminServer?
    private var mocks: [String: MockServer] = [:]
    private var signals: [SignalWatcher] = []
    private let version: Mutex<ChainVersion?> = Mutex(nil)
    /// The number of `version`, stored after it: a worker reads it without the lock and takes the
    /// lock only when it moved (`Worker.currentVersion`).
    let versionNumber = Atomic<Int>(0)
    let activeExchanges = Atomic<Int>(0)
    let openConnections = Atomic<Int>(0)
    /// Client connections per address, for `limits.max_connections_per_ip`.
    let connectionsPerAddress = ConnectionsPerAddress()
    /// The descriptor kept in reserve for answering clients 503 when none is left; opened in `start()`.
    private var descriptorReserve: DescriptorReserve?
    /// What a client gets when the process has no descriptor left for it.
    private static let descriptorsExhaustedAnswer = ProxyError(
        .overloaded, "the proxy has no connection left for this request; retry shortly", retryAfterSeconds: 1
    ).closingResponseBytes(requestID: nil)
    private let stopped = Latch()
    private let running = Mutex(false)
    private let state = Mutex<(draining: Bool, stopped: Bool)>((false, false))
    /// The last reload's result, for the console.
    let lastReload = Mutex<ReloadRecord?>(nil)
    /// The console's state; set in `start()` when there is an admin listener, then control loop only.
    var console: ConsoleState?
    /// The `sluice_shared_state_*` series, made when a filter file first has a `shared_state` section.
    private let sharedStateMetrics = Mutex<SharedStateMetrics?>(nil)

    /// Ports bound, in the order of the file's listeners.
    public private(set) var listenerPorts: [Int] = []
    public private(set) var adminPort: Int?

    public init(file: FilterFile, registry: FilterRegistry, options: EngineOptions = EngineOptions()) {
        self.initialFile = file
        self.registry = registry
        self.options = options
        self.metrics = ProxyMetrics(logger: options.logger)
    }

    var currentVersion: ChainVersion { version.withLock { $0! } }

    /// The port of the in-process mock serving `url`, when one runs.
    public func mockServer(for url: String) -> MockServer? { mocks[url] }

    /// Counts a new client connection unless `limits.max_connections` are open already. Any thread.
    func admitConnection() -> Bool {
        let limit = currentVersion.file.limits.maxConnections
        let now = openConnections.wrappingAdd(1, ordering: .relaxed).newValue
        if now > limit {
            openConnections.subtract(1, ordering: .relaxed)
            return false
        }
        return true
    }

    /// Gives `listener` the descriptor reserve: out of descriptors, its waiting clients get 503
    /// and are closed, and `sluice_connections_refused_total{reason="out_of_descriptors"}` counts
    /// them. Any thread, after `start()` opened the reserve.
    func prepareForDescriptorExhaustion(_ listener: Listener) {
        listener.reserve = descriptorReserve
        listener.descriptorsExhaustedAnswer = Self.descriptorsExhaustedAnswer
        listener.onDescriptorsExhausted = { [metrics] count in metrics.connectionsRefused(.outOfDescriptors, count: count) }
    }

    /// Client connections open across all workers.
    public var openConnectionCount: Int { openConnections.load(ordering: .relaxed) }

    /// How the console's feed (`/admin/events`) is doing. Any thread.
    public var consoleFeedStats: ConsoleFeedStats { console?.feed.stats.withLock { $0 } ?? ConsoleFeedStats() }

    /// Streams in flight across all workers.
    public var activeStreamCount: Int { activeExchanges.load(ordering: .relaxed) }

    /// Binds everything and starts the worker threads. Throws when a socket cannot be bound, a
    /// certificate cannot be loaded, or a filter cannot be built.
    public func start() throws {
        _ = EventLoop.threadingReady
        descriptorReserve = DescriptorReserve()
        do {
            try startEverything()
        } catch {
            // The in-process mocks already run on loops of their own: stop them before they are
            // freed (here, on this thread), since nothing else of this engine will.
            for m in mocks.values { m.stop() }
            mocks = [:]
            throw error
        }
    }

    private func startEverything() throws {
        let file = initialFile
        let mockPorts = try startMocks(for: file)
        // Workers first: a shared_state store opens one Redis connection on each worker's loop.
        workers = (0..<max(1, options.workers)).map { Worker(index: $0, engine: self, clock: options.clock, logger: options.logger) }
        let built = try ChainVersionBuilder.build(file: file, number: 1, registry: registry, previous: nil,
                                                  clock: options.clock, workers: options.workers, mockPorts: mockPorts, metrics: metrics,
                                                  sharedStore: try sharedStore(for: file, previous: nil))
        version.withLock { $0 = built }
        versionNumber.store(built.number, ordering: .releasing)
        accessLog = AccessLog(spec: file.accessLog ?? options.accessLog, dropped: metrics.accessLogDropped)

        for (i, spec) in file.listeners.enumerated() {
            let port = try bind(spec, override: i == 0 ? options.listen : nil)
            listenerPorts.append(port)
        }
        let adminAddress = options.admin ?? file.admin.map { ($0.host, $0.port) }
        if let (host, port) = adminAddress {
            console = ConsoleState(engine: self)
            let server = try AdminServer(loop: control, host: host, port: port) { [unowned self] head, respond in
                self.adminAnswer(head, respond)
            }
            prepareForDescriptorExhaustion(server.listener)
            admin = server
            adminPort = server.port
        }
        for w in workers {
            w.startLagProbe()
            WorkerThread.start(name: "sluice-w\(w.index)") { w.loop.run() }
        }
        running.withLock { $0 = true }
        control.execute { [self] in console?.startHistory() }
        WorkerThread.start(name: "sluice-control") { [control] in control.run() }
        options.logger.info("sluice started", metadata: [
            "listeners": "\(listenerPorts)", "admin": "\(adminPort.map(String.init) ?? "off")",
            "workers": "\(workers.count)", "routes": "\(initialFile.routes.count)",
        ])
    }

    /// The shared store for `file`'s `shared_state` section, or nil when it has none. Keeps the
    /// previous version's connections when the server settings did not change; otherwise opens new
    /// ones (the old close when the last exchange of the old version ends).
    private func sharedStore(for file: FilterFile, previous: ChainVersion?) throws -> RedisSharedStore? {
        guard let spec = file.sharedState else { return nil }
        let metrics = sharedStateMetrics.withLock { made in
            if let made { return made }
            let new = SharedStateMetrics(registry: self.metrics.registry, workers: workers.count)
            made = new
            return new
        }
        if let old = previous?.sharedStore, old.connections.spec.sameConnection(as: spec) {
            if old.keyPrefix != spec.keyPrefix {
                options.logger.warning("shared_state.key_prefix changed: shared limits start fresh under the new prefix",
                                       metadata: ["old": "\(old.keyPrefix)", "new": "\(spec.keyPrefix)"])
            }
            return RedisSharedStore(spec: spec, connections: old.connections, metrics: metrics)
        }
        let connections = try RedisConnections(spec: spec, loops: workers.map(\.loop), metrics: metrics)
        connections.start()
        options.logger.info("shared state in Redis", metadata: [
            "url": "\(spec.displayURL)", "on_failure": "\(spec.onFailure.rawValue)", "key_prefix": "\(spec.keyPrefix)",
        ])
        return RedisSharedStore(spec: spec, connections: connections, metrics: metrics)
    }

    /// Starts an in-process mock for each `mock://` URL not served yet; returns the port of every one.
    private func startMocks(for file: FilterFile) throws -> [String: Int] {
        for group in file.upstreams {
            for e in group.endpoints where e.scheme == .mock && mocks[e.url] == nil {
                let server = MockServer(settings: try MockSettings(query: e.mockQuery))
                try server.start()
                mocks[e.url] = server
            }
        }
        return mocks.mapValues(\.port)
    }

    /// What makes two listeners the same across a reload: name, address and certificate files.
    private static func listenerIdentity(_ spec: ListenerSpec, host: String, port: Int) -> String {
        "\(spec.name)|\(host)|\(port)|\(spec.tls?.certificate ?? "")|\(spec.tls?.key ?? "")"
    }

    /// Binds `spec` once and has every worker accept on that socket. Before the workers run, or from the
    /// control thread: each worker makes its listener on its own loop.
    private func bind(_ spec: ListenerSpec, override: (host: String, port: Int)?) throws -> Int {
        let host = override?.host ?? spec.host
        let port = override?.port ?? spec.port
        let identity = Self.listenerIdentity(spec, host: host, port: port)
        let tls = try spec.tls.map { try TLSContext.server(certificatePath: $0.certificate, keyPath: $0.key) }
        let socket = try ListeningSocket(host: host, port: port)
        for w in workers {
            try onWorker(w) { try $0.listen(identity: identity, name: spec.name, socket: socket, tls: tls) }
        }
        boundListeners.append((identity, socket.port))
        return socket.port
    }

    /// Runs `body` with `worker` on its loop thread when the loop runs, or right here before it does.
    private func onWorker<T: Sendable>(_ worker: Worker, _ body: @escaping @Sendable (Worker) throws -> T) throws -> T {
        guard running.withLock({ $0 }) else { return try body(worker) }
        let result = Mutex<Result<T, any Error>?>(nil)
        let done = Latch()
        worker.loop.execute {
            result.withLock { $0 = Result { try body(worker) } }
            done.countDown()
        }
        done.wait()
        return try result.withLock { $0! }.get()
    }

    /// Reads the filter file again and, when it is valid, puts it in force: new exchanges use the new
    /// chain version while exchanges in flight finish on theirs; filters carry their state over by chain
    /// and name; listeners added or removed in the file are bound or closed without touching the
    /// connections of the others. An invalid file changes nothing. Any thread; one reload at a time.
    /// Returns the new version number, or every problem as `path:line:col: message`.
    public func reload() -> Result<Int, FilterFileErrors> {
        reloadLock.withLock { _ in
            let old = currentVersion
            let result = reloadLocked(old)
            switch result {
            case .success(let number):
                reloadCounts.withLock { $0.succeeded += 1 }
                lastReload.withLock { $0 = ReloadRecord(at: AccessLogEntry.now(), version: number, errors: []) }
                metrics.reloaded(succeeded: true)
                let current = currentVersion
                accessLog?.reconfigure(current.file.accessLog ?? options.accessLog)
                previousVersions.withLock { list in
                    list.removeAll { $0.version == nil }
                    list.append(WeakChainVersion(version: old))
                }
                options.logger.info("reloaded", metadata: ["version": "\(number)", "path": "\(old.file.path)"])
            case .failure(let errors):
                reloadCounts.withLock { $0.failed += 1 }
                lastReload.withLock { $0 = ReloadRecord(at: AccessLogEntry.now(), version: nil, errors: errors.errors.map(\.description)) }
                metrics.reloaded(succeeded: false)
                options.logger.error("reload failed; the running chain stays in force", metadata: ["path": "\(old.file.path)"])
                for e in errors.errors { options.logger.error("\(e.description)") }
            }
            return result
        }
    }

    private func reloadLocked(_ old: ChainVersion) -> Result<Int, FilterFileErrors> {
        let file: FilterFile
        switch FilterFileLoading.load(path: old.file.path, registry: registry) {
        case .success(let f): file = f
        case .failure(let errors): return .failure(errors)
        }
        let unpositioned = { (text: String) in
            FilterFileErrors(errors: [ConfigError(mark: SourceMark(path: old.file.path, line: 1, column: 1), message: text)])
        }
        let next: ChainVersion
        do {
            let mockPorts = try startMocks(for: file)
            next = try ChainVersionBuilder.build(file: file, number: old.number + 1, registry: registry, previous: old,
                                                 clock: options.clock, workers: options.workers, mockPorts: mockPorts, metrics: metrics,
                                                 sharedStore: try sharedStore(for: file, previous: old))
        } catch {
            return .failure(unpositioned("\(error)"))
        }
        // Listeners: the first keeps its --listen override; others are matched by identity.
        var wanted: [(identity: String, spec: ListenerSpec, override: (host: String, port: Int)?)] = []
        for (i, spec) in file.listeners.enumerated() {
            let override = i == 0 ? options.listen : nil
            wanted.append((Self.listenerIdentity(spec, host: override?.host ?? spec.host, port: override?.port ?? spec.port), spec, override))
        }
        let wantedIDs = Set(wanted.map(\.identity))
        var kept: [(identity: String, port: Int)] = []
        for existing in boundListeners {
            if wantedIDs.contains(existing.identity) {
                kept.append(existing)
            } else {
                for w in workers { w.loop.execute { w.closeListener(identity: existing.identity) } }
            }
        }
        boundListeners = kept
        var ports: [Int] = []
        for w in wanted {
            if let port = boundListeners.first(where: { $0.identity == w.identity })?.port {
                ports.append(port)
                continue
            }
            do {
                ports.append(try bind(w.spec, override: w.override))
            } catch {
                return .failure(FilterFileErrors(errors: [ConfigError(mark: w.spec.mark, message: "\(error)")]))
            }
        }
        listenerPorts = ports
        version.withLock { $0 = next }
        versionNumber.store(next.number, ordering: .releasing)
        // Pools of endpoints the new file removed are closed now; streams using them go on.
        let endpoints = Set(next.groups.values.flatMap { $0.endpoints.map(\.id) })
        for w in workers { w.loop.execute { w.pool.closeIdle(except: endpoints); w.forgetReplacedVersion() } }
        return .success(next.number)
    }

    /// Reloads whenever the filter file's modification time or size changes (`sluice run --watch`),
    /// checking every `interval`. A ConfigMap mounted by Kubernetes changes by a symlink swap, which
    /// `stat` follows. Call after `start()`.
    public func watchFilterFile(every interval: Duration = .seconds(1)) {
        let path = currentVersion.file.path
        let initial = Self.fileStamp(path)
        control.execute { [self] in self.pollFile(path: path, last: initial, interval: interval) }
    }

    private func pollFile(path: String, last: String?, interval: Duration) {
        let stamp = Self.fileStamp(path)
        if stamp != last, stamp != nil {
            options.logger.info("the filter file changed; reloading", metadata: ["path": "\(path)"])
            _ = reload()
        }
        control.schedule(after: interval) { [self] in self.pollFile(path: path, last: stamp ?? last, interval: interval) }
    }

    private static func fileStamp(_ path: String) -> String? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return "\(info.st_mtim.tv_sec).\(info.st_mtim.tv_nsec):\(info.st_size):\(info.st_ino)"
    }

    /// Answers the admin listener's requests. Control loop.
    private func adminAnswer(_ head: HTTPRequestHead, _ respond: @escaping (AdminResponse) -> Void) {
        let path = String(head.path.prefix { $0 != "?" })
        if let refusal = AdminAuthorization.refusal(for: head, path: path, auth: currentVersion.file.admin?.auth) {
            respond(refusal)
            return
        }
        if let refusal = BrowserRequestGuard.refusal(for: head, token: console?.csrfToken ?? "",
                                                     authConfigured: currentVersion.file.admin?.auth != nil) {
            respond(refusal)
            return
        }
        let draining = state.withLock { $0.draining }
        switch (head.method, path) {
        case ("GET", "/healthz"):
            // Alive means every worker's loop still turns: one stuck in a callback (a filter that
            // blocks, a bug) serves nobody on its connections, and a restart is the cure.
            let lags = workers.map(\.loopLag)
            if let stuck = lags.firstIndex(where: { $0 > options.stuckWorkerThreshold }) {
                let seconds = Double(lags[stuck].nanosecondsClamped) / 1e9
                respond(AdminResponse(503, json: "{\"status\":\"stuck\",\"worker\":\(stuck),\"lag_seconds\":\(seconds)}\n"))
            } else {
                respond(AdminResponse(200, json: "{\"status\":\"ok\"}\n"))
            }
        case ("GET", "/readyz"):
            // With on_failure: closed, an instance that cannot reach Redis refuses every shared
            // limit, so it should get no traffic; with local or open it serves on.
            let store = currentVersion.sharedStore
            if draining {
                respond(AdminResponse(503, json: "{\"status\":\"draining\"}\n"))
            } else if let store, store.failurePolicy == .closed, !store.connections.allConnected {
                respond(AdminResponse(503, json: "{\"status\":\"shared_state_unavailable\"}\n"))
            } else {
                respond(AdminResponse(200, json: "{\"status\":\"ready\"}\n"))
            }
        case ("GET", "/metrics"):
            respond(AdminResponse(200, "text/plain; version=0.0.4; charset=utf-8", renderMetrics()))
        case ("GET", "/admin/streams"):
            collectStreams(respond)
        case ("POST", "/admin/reload"):
            switch reload() {
            case .success(let number):
                respond(AdminResponse(200, json: "{\"version\":\(number)}\n"))
            case .failure(let errors):
                let list = errors.errors.map { JSONText.quoted($0.description) }.joined(separator: ",")
                respond(AdminResponse(400, json: "{\"error\":{\"type\":\"invalid_filter_file\",\"message\":\"the filter file has errors; the running chain stays in force\",\"errors\":[\(list)]}}\n"))
            }
        case ("GET", "/"):
            respond(console?.page() ?? AdminResponse(404, json: "{}\n"))
        case ("GET", "/admin/events"):
            if console?.feed.hasRoom == false {
                var busy = AdminResponse(503, json: "{\"error\":{\"type\":\"too_many_followers\",\"message\":\"\(ConsoleFeed.maxFollowers) consoles follow already\"}}\n")
                busy.headers = [("retry-after", "5")]
                respond(busy)
            } else {
                respond(.eventStream { [weak self] stream in self?.console?.feed.follow(stream) })
            }
        case ("GET", "/admin/chain"):
            let v = currentVersion
            respond(AdminResponse(200, json: ChainReport.json(version: v.number, file: v.file, loadedAt: v.builtAt)))
        case (_, "/healthz"), (_, "/readyz"), (_, "/metrics"), (_, "/admin/streams"), (_, "/admin/chain"), (_, "/admin/reload"),
             (_, "/"), (_, "/admin/events"):
            respond(AdminResponse(405, json: "{\"error\":{\"type\":\"method_not_allowed\",\"message\":\"\\(head.method) is not allowed here\"}}\n"))
        default:
            respond(AdminResponse(404, json: "{\"error\":{\"type\":\"not_found\",\"message\":\"no such admin endpoint\"}}\n"))
        }
    }

    /// The Prometheus text for `/metrics`. Any thread.
    func renderMetrics() -> [UInt8] {
        metrics.render(engineState())
    }

    /// What the engine knows now, for the gauges read at scrape time and the console. Any thread.
    func engineState() -> ProxyMetrics.EngineState {
        let current = currentVersion
        let onPrevious = previousVersions.withLock { list in
            list.reduce(0) { sum, weak in sum + (weak.version.map { $0 === current ? 0 : $0.liveExchanges.load(ordering: .relaxed) } ?? 0) }
        }
        return ProxyMetrics.EngineState(
            chainVersion: current.number, streamsOnPreviousChains: onPrevious, draining: state.withLock { $0.draining },
            activeStreams: activeStreamCount, openConnections: openConnectionCount,
            maxConnections: current.file.limits.maxConnections, loopLags: workers.map(\.loopLag))
    }

    /// Asks every worker for its live exchanges and answers `/admin/streams` once all replied, or
    /// after 2 s with what arrived (a stuck worker must not hang the admin API). Control loop.
    private func collectStreams(_ respond: @escaping (AdminResponse) -> Void) {
        gatherStreams { rows, complete in
            let body = "{\"complete\":\(complete),\"count\":\(rows.count),\"streams\":[" + rows.joined(separator: ",") + "]}\n"
            respond(AdminResponse(200, json: body))
        }
    }

    /// Asks every worker for its live exchanges as `/admin/streams` rows, and calls `done` once, on
    /// the control loop, when all replied (`complete`) or after 2 s with what arrived. Control loop.
    ///
    /// The gathering state lives on the control loop; workers only send their rows there. Nothing
    /// here holds the engine, a loop or a timer strongly from another thread, so a request still
    /// being gathered when the engine stops is simply dropped.
    func gatherStreams(_ done: @escaping (_ rows: [String], _ complete: Bool) -> Void) {
        final class Collection {
            var rows: [String] = []
            var waiting: Int
            var answered = false
            let done: ([String], Bool) -> Void
            init(waiting: Int, done: @escaping ([String], Bool) -> Void) {
                self.waiting = waiting
                self.done = done
            }
            func finish(complete: Bool) {
                guard !answered else { return }
                answered = true
                done(rows, complete)
            }
        }
        let box = UncheckedBox(Collection(waiting: workers.count, done: done))
        for w in workers {
            w.loop.execute { [weak self] in
                let rows = w.streamSnapshots()
                self?.control.execute {
                    let collection = box.value
                    collection.rows += rows
                    collection.waiting -= 1
                    if collection.waiting == 0 { collection.finish(complete: true) }
                }
            }
        }
        control.schedule(after: .seconds(2)) { box.value.finish(complete: false) }
    }

    /// Runs until SIGTERM/SIGINT (drain, then exit) or `stop()`. Call after `start()`; handles the
    /// signals from then on, if `handleSignals()` did not already.
    public func run() {
        handleSignals()
        waitUntilStopped()
    }

    /// From now on, SIGTERM and SIGINT drain (a second one stops at once) and SIGHUP reloads. Returns
    /// once the handlers are in place, so that a process that then says it is up does not die of a
    /// SIGHUP sent right after (the default action). Any thread but the control loop's, after
    /// `start()`; later calls do nothing. An engine inside a test leaves signals alone unless asked.
    public func handleSignals() {
        let installed = Latch()
        control.execute { [self] in
            defer { installed.countDown() }
            guard signals.isEmpty else { return }
            let onSignal: () -> Void = { [unowned self] in
                let already = state.withLock { $0.draining }
                if already {
                    options.logger.warning("second signal: stopping now")
                    stop()
                } else {
                    drain()
                }
            }
            let onHangup: () -> Void = { [unowned self] in
                // On the control loop, as the admin API's reload: no Dispatch queue, whose lazy
                // set-up needs descriptors the process may not have (it died at its limit).
                // The reload waits for the workers to bind new listeners; they never wait for
                // this loop.
                _ = self.reload()
            }
            signals = [SignalWatcher(loop: control, signal: SIGTERM, onSignal), SignalWatcher(loop: control, signal: SIGINT, onSignal),
                       SignalWatcher(loop: control, signal: SIGHUP, onHangup)]
        }
        _ = installed.wait(timeout: .seconds(5))
    }

    /// The drain timeout in force: the longest `drain` filter timeout among the chains, else the option.
    public var drainTimeout: Duration {
        let policies = currentVersion.chains.values.flatMap { $0.filters.compactMap { $0 as? any DrainPolicy } }
        return policies.map(\.drainTimeout).max() ?? options.drainTimeout
    }

    /// Stops accepting, lets streams in flight finish up to the drain timeout, then stops. Any thread.
    public func drain() {
        let first = state.withLock { s -> Bool in
            if s.draining { return false }
            s.draining = true
            return true
        }
        guard first else { return }
        for w in workers { w.loop.execute { w.beginDrain() } }
        let timeout = drainTimeout
        let deadline = options.clock.now() + timeout
        options.logger.info("draining", metadata: ["streams": "\(activeStreamCount)", "timeout": "\(ConfigParse.durationText(timeout))"])
        control.execute { [self] in self.pollDrain(deadline: deadline, lastLog: options.clock.now()) }
    }

    private func pollDrain(deadline: MonotonicInstant, lastLog: MonotonicInstant) {
        let now = options.clock.now()
        let remaining = activeStreamCount
        if remaining == 0 {
            stop()
            return
        }
        if now >= deadline {
            options.logger.warning("drain timeout: ending the remaining streams", metadata: ["streams": "\(remaining)"])
            let error = ProxyError(.serverShutdown, "the server is shutting down; retry on another instance", retryAfterSeconds: 1)
            for w in workers { w.loop.execute { w.failAllExchanges(error) } }
            // Give the final events a moment to reach the clients before everything closes.
            control.schedule(after: .milliseconds(250)) { [self] in stop() }
            return
        }
        var logged = lastLog
        if now.since(lastLog) >= .seconds(1) {
            // Whole seconds, rounded up: an operator watching the log wants "29s", not 28.9972930629 seconds.
            let left = Duration.seconds((deadline.since(now).nanosecondsClamped + 999_999_999) / 1_000_000_000)
            options.logger.info("draining", metadata: ["streams": "\(remaining)", "left": "\(ConfigParse.durationText(left))"])
            logged = now
        }
        control.schedule(after: .milliseconds(50)) { [self] in self.pollDrain(deadline: deadline, lastLog: logged) }
    }

    /// Closes everything now and ends `run()`. Any thread; idempotent.
    public func stop() {
        let first = state.withLock { s -> Bool in
            if s.stopped { return false }
            s.stopped = true
            return true
        }
        guard first else { return }
        let closed = Latch(count: workers.count)
        for w in workers {
            w.loop.execute {
                w.closeAll()
                closed.countDown()
            }
        }
        closed.wait(timeout: .seconds(5))
        giveBackSharedHoldings()
        for w in workers { w.loop.stop() }
        control.execute { [self] in
            console?.stop()
            admin?.close()
            signals = []
        }
        control.stop()
        accessLog?.close()
        for m in mocks.values { m.stop() }
        // Join the loops, so that nothing of this engine runs once stop() returned and the engine
        // can be freed (a test starts the next proxy right after).
        for w in workers { w.loop.waitUntilFinished(timeout: .seconds(5)) }
        control.waitUntilFinished(timeout: .seconds(5))
        stopped.countDown()
    }

    /// Batch mode: what the current chains' filters hold of shared limits (slices, blocks) goes back
    /// to Redis before the loops stop, through the first worker's connection. Waits for the answers
    /// at most the store's timeout and a little more; what is left expires on its own.
    private func giveBackSharedHoldings() {
        let version = currentVersion
        guard let store = version.sharedStore, let worker = workers.first else { return }
        let holders = version.chains.values.flatMap { $0.filters.compactMap { $0 as? any SharedHoldings } }
        guard !holders.isEmpty else { return }
        let given = Latch(count: holders.count)
        let box = UncheckedBox(holders)
        worker.loop.execute {
            for holder in box.value { holder.giveBack(worker: 0) { given.countDown() } }
        }
        given.wait(timeout: store.connections.spec.timeout + .milliseconds(200))
    }

    /// Blocks until `stop()` ran.
    public func waitUntilStopped() {
        stopped.wait()
        stopped.countDown()
    }
}

/// Holds a replaced chain version without keeping it alive.
struct WeakChainVersion {
    weak var version: ChainVersion?
}

/// Carries loop-confined state through `execute`, whose closures must be Sendable. Only ever
/// opened on the loop that owns the value.
struct UncheckedBox<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}
