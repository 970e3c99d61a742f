import SluiceIO

/// A Redis client on one event loop: non-blocking, pipelined, with a timeout per command and
/// reconnection with backoff. One per worker; every member is for that loop's thread only, and
/// every completion runs on it.
///
/// Commands are written as soon as they are given (a loop turn's commands go out in one write) and
/// answered in order. A command with no answer after `commandTimeout` completes with `.timeout`; its
/// late answer, if it ever comes, is read and dropped. While a connection is being made, commands
/// wait for it (within their timeout); while the server is known to be down (between a failure and
/// the next attempt) they complete at once with `.unavailable`, so a dead Redis costs a request
/// nothing but the policy the caller applies.
///
/// On connect the client sends `AUTH` (ACL user and password, or the password alone) and `SELECT`
/// before anything else; a refused handshake counts as a failed connection.
public final class RedisClient {
    /// What the client is doing, for metrics and health.
    public enum State: Int, Sendable {
        /// Not connected and not trying: before the first command, or after `close()`.
        case idle = 0
        /// A connection (TCP, TLS, handshake) is under way.
        case connecting = 1
        /// Connected and authenticated.
        case ready = 2
        /// The last attempt failed; the next starts after a backoff pause.
        case down = 3
    }

    /// A command finished: how, and how long it took from being given to being answered. Loop thread.
    public var onCommandFinished: ((RedisOutcome, Duration) -> Void)?
    /// The state changed. Loop thread.
    public var onStateChange: ((State) -> Void)?

    public let loop: EventLoop
    public let endpoint: RedisEndpoint
    public private(set) var state: State = .idle {
        didSet { if state != oldValue { onStateChange?(state) } }
    }
    /// Why the last connection failed or ended, for logs (never holds the password).
    public private(set) var lastFailure: String?

    private struct Command {
        let command: RESPCommand
        var completion: ((RedisOutcome) -> Void)?
        let given: ContinuousClock.Instant
        let deadline: ContinuousClock.Instant
        /// Part of the handshake: an error reply fails the connection.
        let handshake: Bool
    }

    private var socket: BufferEvent?
    private var parser = RESPParser()
    /// Written, waiting for answers, in order.
    private var inFlight: [Command] = []
    private var inFlightHead = 0
    /// Given while connecting; written once the connection is up.
    private var queued: [Command] = []
    private var timeoutTimer: Timer?
    private var connectTimer: Timer?
    private var reconnectTimer: Timer?
    private var failures = 0
    /// SHA-1s of the scripts this connection has sent whole or run: later uses go by SHA-1 alone.
    private var scriptsSent: Set<String> = []
    private var closed = false
    private let clock = ContinuousClock()
    /// A connection whose oldest command has had no answer for this long is considered dead.
    private var staleAfter: Duration { max(.seconds(2), endpoint.commandTimeout * 20) }

    public init(loop: EventLoop, endpoint: RedisEndpoint) {
        self.loop = loop
        self.endpoint = endpoint
    }

    deinit {
        timeoutTimer?.cancel()
        connectTimer?.cancel()
        reconnectTimer?.cancel()
        socket?.close()
    }

    /// Starts connecting now rather than at the first command.
    public func start() {
        guard !closed, state == .idle else { return }
        connect()
    }

    /// Sends `command`; `completion` runs once on the loop thread with the answer, `.timeout` or
    /// `.unavailable`. Never calls `completion` before returning.
    public func send(_ command: RESPCommand, _ completion: @escaping (RedisOutcome) -> Void) {
        let now = clock.now
        let entry = Command(command: command, completion: completion, given: now,
                            deadline: now + endpoint.commandTimeout, handshake: false)
        enqueue(entry)
    }

    /// Runs `script` with EVALSHA, falling back to EVAL once when the server does not know it.
    /// Both count against the one timeout of the call, which ends at `deadline` when given (a
    /// command sent again after a cluster redirect keeps its first deadline). `asking` sends
    /// `ASKING` right before (a cluster node importing the slot then answers it).
    public func evaluate(_ script: RedisScript, keys: [String], arguments: [String], asking: Bool = false,
                         deadline given: ContinuousClock.Instant? = nil, _ completion: @escaping (RedisOutcome) -> Void) {
        evaluate(script, keys: keys, byteArguments: arguments.map { Array($0.utf8) }, asking: asking, deadline: given, completion)
    }

    /// `evaluate` with binary-safe arguments (bytes that need not be UTF-8 text).
    public func evaluate(_ script: RedisScript, keys: [String], byteArguments arguments: [[UInt8]], asking: Bool = false,
                         deadline given: ContinuousClock.Instant? = nil, _ completion: @escaping (RedisOutcome) -> Void) {
        let now = clock.now
        let deadline = given ?? now + endpoint.commandTimeout
        let tail = [Array(String(keys.count).utf8)] + keys.map { Array($0.utf8) } + arguments
        let send = { [unowned self] (command: RESPCommand, completion: @escaping (RedisOutcome) -> Void) in
            // Enqueued back to back, so nothing comes between ASKING and its command on the connection.
            if asking {
                enqueue(Command(command: RESPCommand("ASKING"), completion: { _ in }, given: now, deadline: deadline, handshake: false))
            }
            enqueue(Command(command: command, completion: completion, given: now, deadline: deadline, handshake: false))
        }
        if scriptsSent.insert(script.sha1).inserted {
            // The first use on a connection sends the source, which the server keeps: a script it
            // has never seen then costs no NOSCRIPT round trip.
            send(RESPCommand([Array("EVAL".utf8), Array(script.source.utf8)] + tail), completion)
            return
        }
        send(RESPCommand([Array("EVALSHA".utf8), Array(script.sha1.utf8)] + tail)) { outcome in
            guard case .reply(.error(let message)) = outcome, message.hasPrefix("NOSCRIPT") else {
                completion(outcome)
                return
            }
            send(RESPCommand([Array("EVAL".utf8), Array(script.source.utf8)] + tail), completion)
        }
    }

    /// Closes the connection and stops reconnecting; commands waiting complete with `.unavailable`.
    public func close() {
        closed = true
        reconnectTimer?.cancel()
        dropConnection(reason: "client closed", thenReconnect: false)
        state = .idle
    }

    /// Commands given and not answered yet.
    public var outstanding: Int { inFlight.count - inFlightHead + queued.count }

    // MARK: - Sending

    private func enqueue(_ entry: Command) {
        switch state {
        case .ready:
            write(entry)
        case .connecting:
            queued.append(entry)
            armTimeout()
        case .idle:
            guard !closed else { return finishSoon(entry, .unavailable("the Redis client is closed")) }
            queued.append(entry)
            connect()
            armTimeout()
        case .down:
            finishSoon(entry, .unavailable(lastFailure ?? "Redis is unavailable"))
        }
    }

    private func write(_ entry: Command) {
        guard let socket else { return finishSoon(entry, .unavailable("not connected")) }
        socket.write(entry.command.encoded())
        inFlight.append(entry)
        armTimeout()
    }

    /// Completes `entry` after the current call returns, so callers never see a re-entrant completion.
    private func finishSoon(_ entry: Command, _ outcome: RedisOutcome) {
        loop.soon { [weak self] in self?.finish(entry, outcome) }
    }

    private func finish(_ entry: Command, _ outcome: RedisOutcome) {
        guard let completion = entry.completion else { return }
        onCommandFinished?(outcome, clock.now - entry.given)
        completion(outcome)
    }

    // MARK: - Connecting

    private func connect() {
        reconnectTimer?.cancel()
        state = .connecting
        parser = RESPParser()
        let socket = BufferEvent(loop: loop, connectingWith: endpoint.tls, serverName: endpoint.serverName ?? endpoint.host)
        self.socket = socket
        socket.onCondition = { [weak self, unowned socket] condition in
            guard let self, self.socket === socket else { return }
            switch condition {
            case .connected: self.connected()
            case .endOfStream: self.connectionFailed("Redis closed the connection")
            case .failure(let text): self.connectionFailed("Redis connection: \(text)")
            }
        }
        socket.onReadable = { [weak self, unowned socket] in
            guard let self, self.socket === socket else { return }
            self.readAnswers()
        }
        let timer = Timer(loop: loop) { [weak self] _ in self?.connectionFailed("Redis connect timeout") }
        connectTimer = timer
        timer.arm(after: endpoint.connectTimeout)
        if !socket.connect(host: endpoint.host, port: endpoint.port) {
            loop.soon { [weak self] in self?.connectionFailed("cannot connect to Redis at \(self?.endpoint.host ?? ""):\(self?.endpoint.port ?? 0)") }
        }
    }

    private func connected() {
        let now = clock.now
        var handshake: [RESPCommand] = []
        if let password = endpoint.password {
            handshake.append(endpoint.username.map { RESPCommand("AUTH", $0, password) } ?? RESPCommand("AUTH", password))
        }
        if endpoint.database != 0 { handshake.append(RESPCommand("SELECT", String(endpoint.database))) }
        for command in handshake {
            socket?.write(command.encoded())
            inFlight.append(Command(command: command, completion: { _ in }, given: now, deadline: now + endpoint.connectTimeout, handshake: true))
        }
        if handshake.isEmpty { becameReady() } else { armTimeout() }
    }

    private func becameReady() {
        connectTimer?.cancel()
        failures = 0
        lastFailure = nil
        state = .ready
        let waiting = queued
        queued = []
        for entry in waiting { write(entry) }
    }

    /// The connection failed or ended: everything waiting fails, and a new attempt follows after
    /// a backoff pause.
    private func connectionFailed(_ reason: String) {
        guard !closed else { return }
        failures += 1
        lastFailure = reason
        dropConnection(reason: reason, thenReconnect: true)
    }

    private func dropConnection(reason: String, thenReconnect: Bool) {
        connectTimer?.cancel()
        timeoutTimer?.cancel()
        socket?.close()
        socket = nil
        let lost = Array(inFlight[inFlightHead...]) + queued
        scriptsSent = []
        inFlight = []
        inFlightHead = 0
        queued = []
        if thenReconnect {
            state = .down
            let pause = endpoint.backoff.delay(afterFailures: failures, random: Double.random(in: 0..<1))
            let timer = Timer(loop: loop) { [weak self] _ in
                guard let self, !self.closed else { return }
                self.connect()
            }
            reconnectTimer = timer
            timer.arm(after: pause)
        }
        for entry in lost where !entry.handshake { finish(entry, .unavailable(reason)) }
    }

    // MARK: - Answers

    private func readAnswers() {
        guard let socket else { return }
        socket.consumeInput { bytes in
            parser.append(bytes)
            return bytes.count
        }
        while self.socket === socket {
            let value: RESPValue?
            do {
                value = try parser.next()
            } catch {
                connectionFailed("Redis sent bytes that are not RESP: \(error)")
                return
            }
            guard let value else { break }
            guard inFlightHead < inFlight.count else {
                connectionFailed("Redis sent an answer to no command")
                return
            }
            let entry = inFlight[inFlightHead]
            inFlight[inFlightHead].completion = nil
            inFlightHead += 1
            if inFlightHead == inFlight.count {
                inFlight.removeAll(keepingCapacity: true)
                inFlightHead = 0
            } else if inFlightHead > 1024, inFlightHead * 2 > inFlight.count {
                inFlight.removeSubrange(0..<inFlightHead)
                inFlightHead = 0
            }
            if entry.handshake {
                if let message = value.errorMessage {
                    // The server's words, never the command (it holds the password).
                    connectionFailed("Redis refused \(entry.command.name): \(message)")
                    return
                }
                if state == .connecting, inFlightHead == inFlight.count || !inFlight[inFlightHead...].contains(where: \.handshake) {
                    becameReady()
                }
                continue
            }
            finish(entry, .reply(value))
        }
        armTimeout()
    }

    // MARK: - Timeouts

    /// Arms the timer for the earliest deadline of a command still waiting for its completion.
    private func armTimeout() {
        let earliest = (inFlight[inFlightHead...].first { $0.completion != nil && !$0.handshake }?.deadline,
                        queued.first?.deadline)
        let next = [earliest.0, earliest.1].compactMap { $0 }.min()
        guard let next else {
            timeoutTimer?.cancel()
            return
        }
        if timeoutTimer == nil {
            timeoutTimer = Timer(loop: loop) { [weak self] _ in self?.expire() }
        }
        timeoutTimer?.arm(after: max(.zero, next - clock.now))
    }

    /// Completes every command past its deadline with `.timeout`; drops a connection whose oldest
    /// command has gone unanswered for `staleAfter` (a server that stopped answering).
    private func expire() {
        let now = clock.now
        var expired: [Command] = []
        for i in inFlightHead..<inFlight.count where !inFlight[i].handshake && inFlight[i].completion != nil && inFlight[i].deadline <= now {
            expired.append(inFlight[i])
            inFlight[i].completion = nil
        }
        queued.removeAll { entry in
            guard entry.deadline <= now else { return false }
            expired.append(entry)
            return true
        }
        if inFlightHead < inFlight.count, now - inFlight[inFlightHead].given > staleAfter {
            connectionFailed("Redis answered nothing for \(staleAfter)")
        } else {
            armTimeout()
        }
        for entry in expired { finish(entry, .timeout) }
    }
}
