import SluiceConfig
import SluiceFilterAPI
import SluiceIO
import SluiceRedis

/// `SharedStore` over a `shared_state` Redis server: what the filters of one chain version with
/// `shared: true` get in `FilterSetup.sharedStore`. The connections may be shared with other chain
/// versions (a reload that keeps the server); the key prefix, failure policy and lease TTL are this
/// version's.
final class RedisSharedStore: SharedStore {
    let connections: RedisConnections
    let failurePolicy: SharedFailurePolicy
    let keyPrefix: String
    let leaseTTL: Duration
    private let keySecret: [UInt8]
    private let metrics: SharedStateMetrics

    init(spec: SharedStateSpec, connections: RedisConnections, metrics: SharedStateMetrics) {
        self.connections = connections
        self.metrics = metrics
        failurePolicy = spec.onFailure
        keyPrefix = spec.keyPrefix
        leaseTTL = spec.leaseTTL
        keySecret = Array((spec.keySecret ?? spec.password ?? "").utf8)
    }

    /// HMAC-SHA-256 under `key_secret`, the first 128 bits in hex.
    func clientKeyHash(_ secret: String) -> String {
        "k" + String(Digest.hmacSHA256Hex(key: keySecret, message: Array(secret.utf8)).prefix(32))
    }

    func run(_ script: SharedScript, keys: [String], arguments: [String], worker: Int,
             _ completion: @escaping (SharedStoreAnswer) -> Void) {
        connections.evaluate(script, keys: keys, arguments: arguments, worker: worker) { outcome in
            completion(Self.answer(outcome))
        }
    }

    /// Makes `calls` in one round trip on `worker`'s connection (`SharedCallBatch`): `completion`
    /// gets an answer per call, nil for a call not made because an earlier one refused. Loop thread
    /// of `worker`.
    func run(_ calls: [SharedCall], worker: Int, _ completion: @escaping ([SharedStoreAnswer?]) -> Void) {
        if calls.count == 1 {
            run(calls[0], worker: worker) { completion([$0]) }
            return
        }
        let (keys, arguments) = SharedCallBatch.pack(calls)
        run(SharedCallBatch.script(for: calls.map(\.script)), keys: keys, arguments: arguments, worker: worker) { answer in
            completion(SharedCallBatch.unpack(answer, calls: calls.count))
        }
    }

    func policyApplied(_ policy: SharedFailurePolicy) {
        metrics.policyApplied(policy)
    }

    /// A script's outcome as filters see it: its integers, or why there are none.
    static func answer(_ outcome: RedisOutcome) -> SharedStoreAnswer {
        switch outcome {
        case .timeout: return .failed(.timeout)
        case .unavailable(let why): return .failed(.unavailable(why))
        case .reply(.error(let message)): return .failed(.badAnswer(message))
        case .reply(.integer(let n)): return .values([n])
        case .reply(.array(let items)):
            let numbers = items.compactMap(\.integerValue)
            return numbers.count == items.count ? .values(numbers) : .failed(.badAnswer("an array that is not all integers"))
        case .reply(let other): return .failed(.badAnswer("\(other)"))
        }
    }
}
