import SluiceConfig
import SluiceFilterAPI
import SluiceIO
import SluiceRedis
import Synchronization

/// The connections to one `shared_state` Redis server: one `RedisClient` per worker, made, used
/// and closed only on that worker's loop thread, so a request never waits for another thread or
/// another worker's connection. Kept across reloads while the server settings stay the same;
/// closed when the last chain version using it is gone.
final class RedisConnections: Sendable {
    let spec: SharedStateSpec
    private let endpoint: RedisEndpoint
    private let slots: [Slot]
    private let metrics: SharedStateMetrics
    /// Each worker's connection state, for `/readyz` (any thread).
    private let states: Mutex<[RedisClient.State]>

    /// One worker's clients and the scripts it has seen. Loop thread of that worker only.
    private final class Slot: @unchecked Sendable {
        let loop: EventLoop
        /// The connection to `url`'s server: the one every command goes to on a single server,
        /// and the one whose state `/readyz` and the metrics follow.
        var client: RedisClient?
        /// Redis Cluster: connections to the other nodes, by "host:port", made on the first redirect there.
        var nodes: [String: RedisClient] = [:]
        /// Redis Cluster: the node of each hash slot a `MOVED` named. Empty on a single server.
        var owners: [Int: String] = [:]
        var scripts: [ObjectIdentifier: RedisScript] = [:]
        init(loop: EventLoop) { self.loop = loop }
    }

    /// How many redirects one command follows before its answer is the redirect error itself.
    static let redirectLimit = 3
    /// How long a command answered TRYAGAIN (a slot move under way) waits before it is sent again.
    static let tryAgainPause: Duration = .milliseconds(10)

    /// Prepares a client per loop (none connects before `start`). Throws when the TLS context
    /// cannot be made (an unreadable CA file).
    init(spec: SharedStateSpec, loops: [EventLoop], metrics: SharedStateMetrics) throws {
        self.spec = spec
        self.metrics = metrics
        let tls = spec.tls ? try TLSContext.client(verify: spec.verify, caFile: spec.caFile) : nil
        endpoint = RedisEndpoint(host: spec.host, port: spec.port, tls: tls, serverName: spec.serverName ?? spec.host,
                                 username: spec.username, password: spec.password, database: spec.database,
                                 commandTimeout: spec.timeout, connectTimeout: spec.connectTimeout)
        slots = loops.map(Slot.init)
        states = Mutex(Array(repeating: .idle, count: loops.count))
    }

    deinit {
        for slot in slots {
            slot.loop.execute {
                slot.client?.close()
                for node in slot.nodes.values { node.close() }
            }
        }
    }

    /// Starts every worker's connection (each on its own loop). Any thread.
    func start() {
        for worker in slots.indices {
            let slot = slots[worker]
            slot.loop.execute { [self] in self.client(worker).start() }
        }
    }

    /// `worker`'s client, made on first use. That worker's loop thread only.
    func client(_ worker: Int) -> RedisClient {
        let slot = slots[worker]
        if let client = slot.client { return client }
        let client = RedisClient(loop: slot.loop, endpoint: endpoint)
        client.onCommandFinished = { [metrics] outcome, elapsed in metrics.commandFinished(outcome, after: elapsed) }
        client.onStateChange = { [weak self] state in
            guard let self else { return }
            self.states.withLock { $0[worker] = state }
            self.metrics.connection(worker: worker, isUp: state == .ready)
        }
        slot.client = client
        return client
    }

    /// How many workers have a connection.
    var workerCount: Int { slots.count }

    /// `worker`'s event loop.
    func loop(_ worker: Int) -> EventLoop { slots[worker].loop }

    /// Runs `script` on `worker`'s connection to the node that serves its keys' slot: `url`'s
    /// server, or on a Redis Cluster the node a `MOVED` named for that slot. A `MOVED` or `ASK`
    /// answer sends the command again to the node it names (`ASK`: once, after `ASKING`), within the
    /// command's first deadline, at most `redirectLimit` times. Loop thread of `worker`.
    func evaluate(_ script: SharedScript, keys: [String], arguments: [String], worker: Int,
                  _ completion: @escaping (RedisOutcome) -> Void) {
        evaluate(script, keys: keys, byteArguments: arguments.map { Array($0.utf8) }, worker: worker, completion)
    }

    /// `evaluate` with binary-safe arguments. Loop thread of `worker`.
    func evaluate(_ script: SharedScript, keys: [String], byteArguments arguments: [[UInt8]], worker: Int,
                  _ completion: @escaping (RedisOutcome) -> Void) {
        let slot = slots[worker]
        var node: String?
        if !slot.owners.isEmpty, let first = keys.first { node = slot.owners[RedisKeySlot.of(first)] }
        send(self.script(script, worker: worker), keys: keys, arguments: arguments, worker: worker, to: node, asking: false,
             deadline: nil, redirectsLeft: Self.redirectLimit, completion)
    }

    private func send(_ script: RedisScript, keys: [String], arguments: [[UInt8]], worker: Int, to node: String?, asking: Bool,
                      deadline: ContinuousClock.Instant?, redirectsLeft: Int, _ completion: @escaping (RedisOutcome) -> Void) {
        let client = node.map { self.client(worker, node: $0) } ?? self.client(worker)
        let deadline = deadline ?? ContinuousClock.now + endpoint.commandTimeout
        client.evaluate(script, keys: keys, byteArguments: arguments, asking: asking, deadline: deadline) { [self] outcome in
            if case .unavailable = outcome, let node {
                // The node is gone (a failover moves its slots elsewhere): ask `url`'s server again,
                // whose MOVED names the new owner.
                slots[worker].owners = slots[worker].owners.filter { $0.value != node }
            }
            if case .reply(.error(let message)) = outcome, message.hasPrefix("TRYAGAIN"),
               ContinuousClock.now + Self.tryAgainPause < deadline {
                // The slot is being moved and only some of the keys have arrived: ask again shortly,
                // from the start (the move may have ended by then). The first deadline bounds the tries.
                slots[worker].loop.schedule(after: Self.tryAgainPause) { [self] in
                    let first = keys.first.map(RedisKeySlot.of)
                    send(script, keys: keys, arguments: arguments, worker: worker, to: first.flatMap { slots[worker].owners[$0] },
                         asking: false, deadline: deadline, redirectsLeft: Self.redirectLimit, completion)
                }
                return
            }
            guard redirectsLeft > 0, case .reply(.error(let message)) = outcome,
                  let redirect = RedisRedirect(errorMessage: message) else { return completion(outcome) }
            let target = Self.nodeName(host: redirect.host.isEmpty ? client.endpoint.host : redirect.host, port: redirect.port)
            if redirect.kind == .moved { slots[worker].owners[redirect.slot] = target }
            send(script, keys: keys, arguments: arguments, worker: worker, to: target, asking: redirect.kind == .ask,
                 deadline: deadline, redirectsLeft: redirectsLeft - 1, completion)
        }
    }

    /// `worker`'s client for the cluster node at `node` ("host:port"), made on first use with the
    /// same settings as `url`'s (TLS verification keeps `url`'s server name). Loop thread of `worker`.
    private func client(_ worker: Int, node: String) -> RedisClient {
        let slot = slots[worker]
        if node == Self.nodeName(host: endpoint.host, port: endpoint.port) { return client(worker) }
        if let known = slot.nodes[node] { return known }
        var address = endpoint
        if let colon = node.lastIndex(of: ":"), let port = Int(node[node.index(after: colon)...]) {
            var host = String(node[..<colon])
            if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
            address.host = host
            address.port = port
        }
        address.serverName = endpoint.serverName ?? endpoint.host
        let made = RedisClient(loop: slot.loop, endpoint: address)
        made.onCommandFinished = { [metrics] outcome, elapsed in metrics.commandFinished(outcome, after: elapsed) }
        slot.nodes[node] = made
        return made
    }

    /// A node's name in `Slot.nodes` and `Slot.owners`: "host:port", an IPv6 host in brackets.
    private static func nodeName(host: String, port: Int) -> String {
        host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }

    /// The Redis form of `script` (its SHA-1 computed once per worker). Loop thread of `worker`.
    func script(_ script: SharedScript, worker: Int) -> RedisScript {
        let slot = slots[worker]
        let id = ObjectIdentifier(script)
        if let known = slot.scripts[id] { return known }
        let made = RedisScript(script.source)
        slot.scripts[id] = made
        return made
    }

    /// True when every worker's connection is up. Any thread.
    var allConnected: Bool { states.withLock { $0.allSatisfy { $0 == .ready } } }
}
