import SluiceFilterAPI
import Synchronization

/// Stream leases in Redis: one lease per live stream, so every instance counts the streams of all.
/// A lease is a member of two sorted sets scored by its expiry on the server's clock, one for the
/// filter instance in all (`BASE:all`) and one per client key (`BASE:client:KEY`), both under the
/// filter's hash tag so each script touches one slot.
///
/// Every script first drops the leases that expired, so a lease of an instance that died (SIGKILL)
/// stops counting at most `lease_ttl` after its last renewal. A live stream renews its lease every
/// third of the TTL; it is released once when the stream ends (a release Redis misses expires).
/// Loop thread of the exchange for every call.
final class StreamLeases: Sendable {
    let store: any SharedStore
    let base: String
    /// This process's part of every lease id: leases of different instances never collide.
    private let instance = String(UInt64.random(in: 0...UInt64.max), radix: 36)
    private let counter = Atomic<UInt64>(0)

    init(store: any SharedStore, base: String) {
        self.store = store
        self.base = base
    }

    /// How often a live stream renews its lease.
    var renewEvery: Duration { store.leaseTTL / 3 }

    /// A lease id no other stream of any instance has.
    func newID() -> String {
        instance + "." + String(counter.wrappingAdd(1, ordering: .relaxed).newValue, radix: 36)
    }

    /// Answers {0 admitted, 1 client full, 2 all full; leases held in all afterwards}.
    static let acquireScript = SharedScript(name: "lease_acquire", source: """
        if redis.replicate_commands then pcall(redis.replicate_commands) end
        local clock = redis.call('TIME')
        local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
        local ttl = tonumber(ARGV[2])
        local global = tonumber(ARGV[3])
        local perClient = tonumber(ARGV[4])
        redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
        redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
        if perClient >= 0 and redis.call('ZCARD', KEYS[2]) >= perClient then
          return {1, redis.call('ZCARD', KEYS[1])}
        end
        if global >= 0 and redis.call('ZCARD', KEYS[1]) >= global then
          return {2, redis.call('ZCARD', KEYS[1])}
        end
        redis.call('ZADD', KEYS[1], now + ttl, ARGV[1])
        redis.call('ZADD', KEYS[2], now + ttl, ARGV[1])
        redis.call('PEXPIRE', KEYS[1], ttl)
        redis.call('PEXPIRE', KEYS[2], ttl)
        return {0, redis.call('ZCARD', KEYS[1])}
        """)

    /// Answers {1 renewed, 0 the lease was gone}.
    static let renewScript = SharedScript(name: "lease_renew", source: """
        if redis.replicate_commands then pcall(redis.replicate_commands) end
        local clock = redis.call('TIME')
        local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
        local ttl = tonumber(ARGV[2])
        if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then return {0} end
        redis.call('ZADD', KEYS[1], 'XX', now + ttl, ARGV[1])
        redis.call('ZADD', KEYS[2], 'XX', now + ttl, ARGV[1])
        redis.call('PEXPIRE', KEYS[1], ttl)
        redis.call('PEXPIRE', KEYS[2], ttl)
        return {1}
        """)

    /// Answers {leases removed (0 or 1), leases held in all afterwards}.
    static let releaseScript = SharedScript(name: "lease_release", source: """
        local removed = redis.call('ZREM', KEYS[1], ARGV[1])
        redis.call('ZREM', KEYS[2], ARGV[1])
        return {removed, redis.call('ZCARD', KEYS[1])}
        """)

    /// The call that takes lease `id` for `client` unless `limits` are reached; it goes on when admitted.
    func acquireCall(_ id: String, client: String, limits: ConnectionSlots.Limits) -> SharedCall {
        SharedCall(script: Self.acquireScript, keys: keys(client),
                   arguments: [id, SharedLimit.milliseconds(store.leaseTTL), String(limits.global ?? -1), String(limits.perClient ?? -1)],
                   goesOnWhenFirstValueIs: 0)
    }

    /// What an answer to `acquireCall` says: the decision and the leases held in all, or the
    /// failure when Redis gave no answer.
    static func acquired(_ answer: SharedStoreAnswer) -> Result<(ConnectionSlots.Admission, Int), SharedStoreFailure> {
        switch answer {
        case .values(let v) where v.count == 2:
            let admission: ConnectionSlots.Admission = v[0] == 0 ? .admitted : v[0] == 1 ? .clientFull : .globalFull
            return .success((admission, Int(clamping: v[1])))
        case .values(let v):
            return .failure(.badAnswer("\(v.count) values from the lease script"))
        case .failed(let failure):
            return .failure(failure)
        }
    }

    /// Pushes the lease's expiry to a full TTL from now. Fire and forget: a missed renewal is
    /// caught up by the next one, unless the lease expired meanwhile.
    func renew(_ id: String, client: String, worker: Int) {
        store.run(Self.renewScript, keys: keys(client), arguments: [id, SharedLimit.milliseconds(store.leaseTTL)],
                  worker: worker) { _ in }
    }

    /// Gives the lease back; `completion` gets the leases held in all afterwards, when Redis answered.
    func release(_ id: String, client: String, worker: Int, _ completion: @escaping (Int?) -> Void = { _ in }) {
        store.run(Self.releaseScript, keys: keys(client), arguments: [id], worker: worker) { answer in
            if case .values(let v) = answer, v.count == 2 { completion(Int(clamping: v[1])) } else { completion(nil) }
        }
    }

    private func keys(_ client: String) -> [String] {
        [base + ":all", base + ":client:" + client]
    }
}
