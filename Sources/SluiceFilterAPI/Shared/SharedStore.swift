/// State kept in the Redis server of the filter file's `shared_state:` section, so that every
/// Sluice instance pointing at it enforces one limit together. A filter with `shared: true` gets one
/// in `FilterSetup.sharedStore`; without a `shared_state` section it is nil.
///
/// Threading: `run` is called on the loop thread of the worker named by `worker` (the exchange's
/// `worker`), and its completion runs later on that same thread, never before `run` returned.
/// Everything else may be read from any thread.
public protocol SharedStore: AnyObject, Sendable {
    /// What filters do while Redis cannot answer within the timeout (`on_failure`).
    var failurePolicy: SharedFailurePolicy { get }
    /// `key_prefix`: the start of every key. Filters add their chain and name after it.
    var keyPrefix: String { get }
    /// `lease_ttl`: how long a stream lease lives unless renewed.
    var leaseTTL: Duration { get }
    /// A process-independent keyed hash of a client's secret (an API key): every instance with the
    /// same `key_secret` computes the same text, and Redis never holds the secret itself.
    func clientKeyHash(_ secret: String) -> String
    /// Runs `script` atomically on the server with `keys` and `arguments`, on `worker`'s connection.
    /// The completion gets the script's answer, an array of integers, or why there is none
    /// (after at most the configured timeout).
    func run(_ script: SharedScript, keys: [String], arguments: [String], worker: Int,
             _ completion: @escaping (SharedStoreAnswer) -> Void)
    /// Runs `script` atomically on the server like `run`, with binary-safe `arguments`, and hands
    /// back its whole reply (strings, arrays, integers), for state that is more than counters (the
    /// events of a resumable stream). Sent at once on `worker`'s connection rather than gathered
    /// into the loop turn's batch, so the `evaluate` calls of one worker reach the server in the
    /// order they were made. The completion runs later on `worker`'s loop thread, never before
    /// `evaluate` returned, with the reply or why there is none (after at most the configured
    /// timeout). Loop thread of `worker`.
    func evaluate(_ script: SharedScript, keys: [String], arguments: [[UInt8]], worker: Int,
                  _ completion: @escaping (Result<SharedReply, SharedStoreFailure>) -> Void)
    /// Counts one application of the failure policy (a metric). Any thread.
    func policyApplied(_ policy: SharedFailurePolicy)
    /// Counts one decision of a shared limit (a metric, `sluice_shared_state_decisions_total`):
    /// `locally` when it came from what this instance already held (a batch mode's slice or block),
    /// without a round trip; otherwise it waited for a script. Any thread.
    func decided(locally: Bool)
    /// Runs `body` on `worker`'s loop thread after `delay`, with no exchange to outlive: what a batch
    /// mode gives back, renews or lets age out after the request that took it has ended. The timer
    /// lives until it fires (or the process ends). Loop thread of `worker`.
    func schedule(after delay: Duration, worker: Int, _ body: @escaping () -> Void)
}

/// `shared_state.on_failure`: what a shared limit does while Redis cannot answer in time.
public enum SharedFailurePolicy: String, Sendable, CaseIterable {
    /// Fall back to the instance's own in-memory limits.
    case local
    /// Admit: the shared limit is not enforced until Redis answers again.
    case open
    /// Refuse with 503: nothing passes without the shared limit.
    case closed
}

/// A Lua script a filter runs through `SharedStore.run`. Make each one once (a `static let`): the
/// store names it to Redis by its SHA-1 and sends the source only when the server lacks it.
/// The script must return an array of integers, touch only the keys it is given (all in one hash
/// slot), and may call `TIME` for the server's clock.
public final class SharedScript: Sendable {
    /// The Lua source.
    public let source: String
    /// A short name for logs and metrics.
    public let name: String

    public init(name: String, source: String) {
        self.name = name
        self.source = source
    }
}

/// What a shared script answered.
public enum SharedStoreAnswer: Sendable, Equatable {
    /// The script ran and returned these integers.
    case values([Int64])
    /// It did not run, or its answer is unknown: the failure policy applies.
    case failed(SharedStoreFailure)
}

/// Why a shared script has no answer.
public enum SharedStoreFailure: Error, Sendable, Equatable, CustomStringConvertible {
    /// No answer within `shared_state.timeout`.
    case timeout
    /// Redis is down, unreachable, refused the handshake, or the connection broke.
    case unavailable(String)
    /// Redis answered with an error, or with something that is not an array of integers.
    case badAnswer(String)

    public var description: String {
        switch self {
        case .timeout: return "Redis did not answer in time"
        case .unavailable(let why): return "Redis is unavailable: \(why)"
        case .badAnswer(let what): return "Redis answered with an error: \(what)"
        }
    }
}
