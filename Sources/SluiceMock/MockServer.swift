import SluiceHTTP
import SluiceIO
import Synchronization

/// The fake LLM backend as a server: accepts connections on its own event-loop thread, plans each
/// request with `MockPlanner` and executes the plan with timers. Runs inside the proxy for `mock://`
/// endpoints, on its own for `sluice mock`, and in tests, where `journal` tells what it saw.
public final class MockServer: @unchecked Sendable {
    /// Timing and token count of answers; requests override them with `x-mock-ttft`, `x-mock-tps`, `x-mock-tokens`.
    public let settings: MockSettings
    /// What the server saw: every request and how its response ended.
    public let journal = MockJournal()
    private let host: String
    private let requestedPort: Int
    /// A socket bound by the caller and shared with other servers (`sluice mock --workers`), or nil to bind
    /// `host:requestedPort` at start.
    private let sharedSocket: ListeningSocket?
    private var loop: EventLoop?
    private var listener: Listener?
    private var connections: [ObjectIdentifier: MockConnection] = [:]
    /// The port it listens on; known once `start()` returned.
    public private(set) var port: Int = 0
    private let openCount = Atomic<Int>(0)
    private let forced = Mutex<[(String, String)]>([])
    /// Draws each request's time to first token when `settings.ttftDistribution` is set.
    private let draws: Mutex<MockRandom>

    /// `x-mock-*` fault headers (see `MockFaults`) applied to every request this server answers that
    /// does not carry the same header itself, as if it did: they make one server of an upstream group
    /// fail (`[("x-mock-status", "503")]`) while another serves the same requests. The journal records
    /// requests as received, without them. Empty by default; may be changed while the server runs
    /// (a failing endpoint recovers). Any thread.
    public var forcedFaults: [(String, String)] {
        get { forced.withLock { $0 } }
        set { forced.withLock { $0 = newValue } }
    }

    /// Connections open right now (tests watch the proxy's pool through this). Any thread.
    public var openConnections: Int { openCount.load(ordering: .relaxed) }

    /// A response stops being generated while this many bytes or more wait in its connection's
    /// output buffer (the client reads slower than the plan runs), and goes on once they drain to
    /// `outputLowWatermark`. So one stream buffers at most this plus one step, whatever its length.
    public static let outputHighWatermark = 64 * 1024
    /// See `outputHighWatermark`.
    public static let outputLowWatermark = 16 * 1024

    /// The most bytes any of this server's connections has held in its output buffer, waiting for
    /// the client to read (staged bytes included). Any thread.
    public var peakOutputBacklog: Int { peakBacklog.load(ordering: .relaxed) }
    /// Responses paused right now because their client is not reading. Any thread.
    public var pausedResponses: Int { pausedCount.load(ordering: .relaxed) }
    fileprivate let peakBacklog = Atomic<Int>(0)
    fileprivate let pausedCount = Atomic<Int>(0)

    /// Whether `journal` records requests. On by default (tests read it); `sluice mock` turns it off,
    /// so a long load run does not keep every request it served.
    public let keepsJournal: Bool

    /// A server that will listen on `host:port` (0: a free port) once started.
    public init(settings: MockSettings = MockSettings(), host: String = "127.0.0.1", port: Int = 0,
                keepsJournal: Bool = true) {
        self.settings = settings
        self.draws = Mutex(MockRandom(seed: settings.seed))
        self.keepsJournal = keepsJournal
        self.host = host
        self.requestedPort = port
        self.sharedSocket = nil
    }

    /// A server that accepts on `socket`, which other servers may share: each runs its own loop and the
    /// kernel gives each connection to one of them.
    public init(settings: MockSettings = MockSettings(), socket: ListeningSocket, keepsJournal: Bool = true) {
        self.settings = settings
        self.draws = Mutex(MockRandom(seed: settings.seed))
        self.keepsJournal = keepsJournal
        self.host = socket.address.host
        self.requestedPort = socket.port
        self.sharedSocket = socket
    }

    /// Binds and starts serving on a new thread. Returns once the port is known.
    public func start() throws {
        let loop = EventLoop()
        let listener = try Listener(loop: loop, socket: sharedSocket ?? ListeningSocket(host: host, port: requestedPort))
        port = listener.port
        listener.onAccept = { [unowned self] fd, _ in
            let connection = MockConnection(server: self, loop: loop, fd: fd)
            self.connections[ObjectIdentifier(connection)] = connection
            self.openCount.add(1, ordering: .relaxed)
        }
        self.loop = loop
        self.listener = listener
        WorkerThread.start(name: "sluice-mock") { loop.run() }
    }

    /// Stops the loop; open connections are closed. Any thread.
    public func stop() {
        guard let loop else { return }
        loop.execute { [self] in
            listener?.close()
            for c in connections.values { c.socket.close() }
            connections.removeAll()
        }
        loop.stop()
        loop.waitUntilFinished(timeout: .seconds(5))
    }

    /// The settings one request is planned with: `settings`, with its time to first token drawn
    /// from `settings.ttftDistribution` when there is one. Any thread.
    public func settingsForNextRequest() -> MockSettings {
        guard let distribution = settings.ttftDistribution else { return settings }
        var drawn = settings
        drawn.timeToFirstToken = draws.withLock { distribution.draw(using: &$0) }
        return drawn
    }

    fileprivate func closed(_ connection: MockConnection) {
        if connections.removeValue(forKey: ObjectIdentifier(connection)) != nil {
            openCount.subtract(1, ordering: .relaxed)
        }
    }
}

/// One connection to the mock: requests in order, each answered by executing its plan.
private final class MockConnection {
    unowned let server: MockServer
    let loop: EventLoop
    let socket: BufferEvent
    let id: Int
    private var parser = HTTPRequestParser()
    private var head: HTTPRequestHead?
    private var body: [UInt8] = []
    /// The steps of the response being sent, made as they are reached.
    private var steps: MockPlan.Iterator?
    /// True while the response waits for the client to read (see `MockServer.outputHighWatermark`).
    private var paused = false
    private var keepAlive = false
    private var chunked = false
    private var entry: Int?
    private var executing = false
    private var timer: SluiceIO.Timer?
    private var closed = false

    init(server: MockServer, loop: EventLoop, fd: Int32) {
        self.server = server
        self.loop = loop
        self.socket = BufferEvent(loop: loop, acceptedSocket: fd, tls: nil)
        self.id = server.journal.connectionOpened()
        socket.onReadable = { [unowned self] in self.readable() }
        socket.setWriteLowWatermark(MockServer.outputLowWatermark)
        socket.onWritable = { [unowned self] in self.drained() }
        socket.onCondition = { [unowned self] condition in
            switch condition {
            case .connected: break
            case .endOfStream, .failure: self.peerClosed()
            }
        }
    }

    private func readable() {
        do {
            try socket.consumeInput { bytes in
                if executing || parser.isComplete || closed { return 0 }
                return try parser.parse(bytes) { event in
                    switch event {
                    case .head(let h): head = h; body = []
                    case .body(let b): body.append(contentsOf: b)
                    case .end: requestComplete()
                    }
                }
            }
        } catch let error as HTTPParseError {
            var response = HTTPResponseHead(status: error.status)
            response.headers.set("connection", "close")
            response.headers.set("content-length", "0")
            var bytes: [UInt8] = []
            response.write(into: &bytes)
            socket.write(bytes)
            finish(closing: true)
        } catch {
            finish(closing: true)
        }
    }

    private func requestComplete() {
        guard let head else { return }
        var faulted = head
        for (name, value) in server.forcedFaults where !faulted.headers.contains(name) { faulted.headers.add(name, value) }
        let plan = MockPlanner.plan(MockRequest(head: faulted, body: body), settings: server.settingsForNextRequest())
        steps = plan.makeIterator()
        keepAlive = plan.keepAlive && head.keepAlive
        chunked = false
        executing = true
        // Counting reads the plan through once more; only tests keep a journal.
        let planned = !server.keepsJournal ? 0 : plan.reduce(0) { n, s in if case .body = s { return n + 1 } else { return n } }
        entry = !server.keepsJournal ? nil : server.journal.record(MockJournal.Entry(head: head, body: body, connection: id, bodyStepsSent: 0,
                                                        bodyStepsPlanned: planned, ending: nil))
        // Run outside the parser callback: steps may close the socket.
        loop.soon { [weak self] in self?.runSteps() }
    }

    private func runSteps() {
        while executing, !closed, !paused {
            let backlog = socket.outputLength
            if backlog > server.peakBacklog.load(ordering: .relaxed) { server.peakBacklog.store(backlog, ordering: .relaxed) }
            if backlog >= MockServer.outputHighWatermark {
                paused = true
                server.pausedCount.add(1, ordering: .relaxed)
                return
            }
            guard let step = steps?.next() else { break }
            switch step {
            case .head(let h):
                chunked = h.headers.containsToken("chunked", in: "transfer-encoding")
                var bytes: [UInt8] = []
                h.write(into: &bytes)
                socket.write(bytes)
            case .body(let payload):
                if chunked {
                    var bytes: [UInt8] = []
                    payload.withUnsafeBytes { ChunkedEncoding.writeChunk($0, into: &bytes) }
                    socket.write(bytes)
                } else {
                    socket.write(payload)
                }
                if let entry { server.journal.update(entry) { $0.bodyStepsSent += 1 } }
            case .wait(let d):
                let t = timer ?? SluiceIO.Timer(loop: loop) { [weak self] _ in self?.runSteps() }
                timer = t
                t.arm(after: d)
                return
            case .end:
                if chunked { socket.write(ChunkedEncoding.lastChunk) }
                if let entry { server.journal.update(entry) { $0.ending = .finished } }
                finish(closing: !keepAlive)
                return
            case .close:
                if let entry { server.journal.update(entry) { $0.ending = .faulted } }
                closed = true
                socket.closeAfterFlush()
                server.closed(self)
                return
            case .reset:
                if let entry { server.journal.update(entry) { $0.ending = .faulted } }
                closed = true
                socket.abortAfterFlush()
                server.closed(self)
                return
            case .stall:
                return
            }
        }
        if executing, !closed, !paused {
            if let entry { server.journal.update(entry) { $0.ending = .finished } }
            finish(closing: !keepAlive)
        }
    }

    /// The output drained to the low watermark: a paused response goes on.
    private func drained() {
        guard paused else { return }
        paused = false
        server.pausedCount.subtract(1, ordering: .relaxed)
        runSteps()
    }

    private func finish(closing: Bool) {
        executing = false
        steps = nil
        entry = nil
        head = nil
        if closing {
            closed = true
            socket.closeAfterFlush()
            server.closed(self)
            return
        }
        parser.reset()
        if socket.inputLength > 0 { loop.soon { [weak self] in self?.readable() } }
    }

    private func peerClosed() {
        guard !closed else { return }
        closed = true
        timer?.cancel()
        if paused {
            paused = false
            server.pausedCount.subtract(1, ordering: .relaxed)
        }
        if let entry { server.journal.update(entry) { e in if e.ending == nil { e.ending = .cancelledByPeer } } }
        socket.close()
        server.closed(self)
    }
}
