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
        turns = (0..<connections.workerCount).map { _ in TurnQueue() }
    }

    /// HMAC-SHA-256 under `key_secret`, the first 128 bits in hex.
    func clientKeyHash(_ secret: String) -> String {
        "k" + String(Digest.hmacSHA256Hex(key: keySecret, message: Array(secret.utf8)).prefix(32))
    }

    /// One worker's calls given during the current loop turn. That worker's loop thread only.
    private final class TurnQueue: @unchecked Sendable {
        var groups: [SharedCallBatch.Group] = []
    }

    private let turns: [TurnQueue]

    /// Gathers the call with the worker's others of this loop turn (`SharedCallBatch`). Loop thread of `worker`.
    func run(_ script: SharedScript, keys: [String], arguments: [String], worker: Int,
             _ completion: @escaping (SharedStoreAnswer) -> Void) {
        let call = SharedCall(script: script, keys: keys, arguments: arguments, goesOnWhenFirstValueIs: 0)
        enqueue(SharedCallBatch.Group(calls: [call], stopsAtRefusal: false) { answers in
            completion(answers.first.flatMap { $0 } ?? .failed(.badAnswer("no answer for the call")))
        }, worker: worker)
    }

    /// Makes `calls` as one group, in file order, stopping after the first refusal: `completion` gets
    /// an answer per call, nil for a call not made because an earlier one refused. They go with the
    /// worker's other calls of this loop turn, in one round trip. Loop thread of `worker`.
    func run(_ calls: [SharedCall], worker: Int, _ completion: @escaping ([SharedStoreAnswer?]) -> Void) {
        enqueue(SharedCallBatch.Group(calls: calls, stopsAtRefusal: true, completion: completion), worker: worker)
    }

    private func enqueue(_ group: SharedCallBatch.Group, worker: Int) {
        let turn = turns[worker]
        if turn.groups.isEmpty {
            connections.loop(worker).atEndOfTurn { [self] in send(turn, worker: worker) }
        }
        turn.groups.append(group)
    }

    /// Sends the turn's groups: one script per Redis Cluster slot (on a single server, all share one
    /// tag per chain anyway); a lone call as its own script.
    private func send(_ turn: TurnQueue, worker: Int) {
        let groups = turn.groups
        turn.groups = []
        var bySlot: [Int: [SharedCallBatch.Group]] = [:]
        var order: [Int] = []
        for group in groups {
            let slot = group.calls.first?.keys.first.map(RedisKeySlot.of) ?? 0
            if bySlot[slot] == nil { order.append(slot) }
            bySlot[slot, default: []].append(group)
        }
        for slot in order {
            let part = bySlot[slot]!
            if part.count == 1, part[0].calls.count == 1 {
                let call = part[0].calls[0]
                connections.evaluate(call.script, keys: call.keys, arguments: call.arguments, worker: worker) { outcome in
                    part[0].completion([Self.answer(outcome)])
                }
                continue
            }
            let (script, keys, arguments) = SharedCallBatch.pack(part)
            connections.evaluate(script, keys: keys, arguments: arguments, worker: worker) { outcome in
                for (group, answers) in zip(part, SharedCallBatch.unpack(Self.answer(outcome), groups: part)) {
                    group.completion(answers)
                }
            }
        }
    }

    func evaluate(_ script: SharedScript, keys: [String], arguments: [[UInt8]], worker: Int,
                  _ completion: @escaping (Result<SharedReply, SharedStoreFailure>) -> Void) {
        connections.evaluate(script, keys: keys, byteArguments: arguments, worker: worker) { outcome in
            switch outcome {
            case .timeout: completion(.failure(.timeout))
            case .unavailable(let why): completion(.failure(.unavailable(why)))
            case .reply(.error(let message)): completion(.failure(.badAnswer(message)))
            case .reply(let value): completion(.success(Self.reply(value)))
            }
        }
    }

    /// A RESP value as filters see it (an error nested in an array becomes nil: scripts that
    /// catch errors answer them as values of their own).
    static func reply(_ value: RESPValue) -> SharedReply {
        switch value {
        case .simple(let text): return .bytes(Array(text.utf8))
        case .bulk(let bytes): return .bytes(bytes)
        case .integer(let n): return .integer(n)
        case .array(let items): return .array(items.map(reply))
        case .null, .error: return .null
        }
    }

    func policyApplied(_ policy: SharedFailurePolicy) {
        metrics.policyApplied(policy)
    }

    func decided(locally: Bool) {
        metrics.decided(locally: locally)
    }

    func schedule(after delay: Duration, worker: Int, _ body: @escaping () -> Void) {
        connections.loop(worker).schedule(after: delay, body)
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
