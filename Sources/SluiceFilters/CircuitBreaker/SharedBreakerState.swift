import SluiceFilterAPI
import Synchronization

/// The open state of a `circuit_breaker` with `shared: true`, kept in Redis so an endpoint one
/// instance opened is open for all. Only the open state is shared: each instance counts its own
/// results, decides on its own to open, and probes on its own once the open time is over.
///
/// An open endpoint is a key `PREFIX:cb:{CHAIN}:NAME:ENDPOINT` that expires when the open time
/// does. The instance whose breaker opens writes it (one script run, fire and forget); every request
/// first reads the keys of its upstream group's endpoints (one script run) and opens the local
/// breakers they name, so the next request anywhere after the write sees the endpoint open.
/// Loop thread of the exchange for every call but `remember`.
final class SharedBreakerState: Sendable {
    let store: any SharedStore
    let base: String
    /// Endpoint ids by upstream group, as seen in `selectUpstream`: what a request asks about.
    private let endpoints = Mutex<[String: [String]]>([:])

    init(store: any SharedStore, base: String) {
        self.store = store
        self.base = base
    }

    /// Answers, per key, the milliseconds the endpoint stays open (0 or less: not open).
    static let readScript = SharedScript(name: "breaker_read", source: """
        local out = {}
        for i, key in ipairs(KEYS) do out[i] = redis.call('PTTL', key) end
        return out
        """)

    /// Marks the endpoint open for ARGV[1] milliseconds, unless it already is for longer.
    static let openScript = SharedScript(name: "breaker_open", source: """
        local left = redis.call('PTTL', KEYS[1])
        if left < tonumber(ARGV[1]) then redis.call('SET', KEYS[1], '1', 'PX', ARGV[1]) end
        return {1}
        """)

    /// Notes the endpoints of `group` (any thread).
    func remember(group: String, candidates: [EndpointCandidate]) {
        let ids = candidates.map(\.id)
        endpoints.withLock { known in
            if known[group] != ids { known[group] = Array(Set((known[group] ?? []) + ids)).sorted() }
        }
    }

    /// The endpoints of `group` known so far.
    func known(group: String) -> [String] {
        endpoints.withLock { $0[group] ?? [] }
    }

    /// Reads which of `ids` are open: their remaining open time by id, or the failure.
    func read(_ ids: [String], worker: Int, _ completion: @escaping (Result<[String: Duration], SharedStoreFailure>) -> Void) {
        store.run(Self.readScript, keys: ids.map(key), arguments: [], worker: worker) { answer in
            switch answer {
            case .values(let left) where left.count == ids.count:
                var open: [String: Duration] = [:]
                for (id, milliseconds) in zip(ids, left) where milliseconds > 0 { open[id] = .milliseconds(milliseconds) }
                completion(.success(open))
            case .values:
                completion(.failure(.badAnswer("the breaker script answered for other endpoints")))
            case .failed(let failure):
                completion(.failure(failure))
            }
        }
    }

    /// Tells every instance that `id` is open for `duration`.
    func open(_ id: String, for duration: Duration, worker: Int) {
        store.run(Self.openScript, keys: [key(id)], arguments: [SharedLimit.milliseconds(duration)], worker: worker) { _ in }
    }

    private func key(_ id: String) -> String { base + ":" + id }
}
