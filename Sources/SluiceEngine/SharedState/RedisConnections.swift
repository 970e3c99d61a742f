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

    /// One worker's client and the scripts it has seen. Loop thread of that worker only.
    private final class Slot: @unchecked Sendable {
        let loop: EventLoop
        var client: RedisClient?
        var scripts: [ObjectIdentifier: RedisScript] = [:]
        init(loop: EventLoop) { self.loop = loop }
    }

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
            slot.loop.execute { slot.client?.close() }
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
