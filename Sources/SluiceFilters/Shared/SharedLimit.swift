import SluiceFilterAPI

/// What the built-in filters with `shared: true` have in common: reading the setting, naming their
/// Redis keys, and the answer of `on_failure: closed`.
enum SharedLimit {
    /// Reads `shared` from `config`: the store when it is true and the file has a `shared_state`
    /// section, else nil. (The file check reports `shared: true` without the section, with its
    /// position; `sluice check` builds filters without a store, so nothing more is said here.)
    /// For filters without a batch mode: a mapping is a positioned error.
    static func store(_ config: ConfigMap, _ setup: FilterSetup) -> (any SharedStore)? {
        if let node = config.node("shared"), node.mapping != nil {
            config.error("'shared' takes true or false here: batch mode ({ batch: N }) applies to token_bucket, "
                         + "connection_manager and admission", atValueOf: "shared")
            return nil
        }
        return config.bool("shared", default: false) ? setup.sharedStore : nil
    }

    /// Reads `shared`: `true` (exact mode) or a mapping `{ batch: N, hold: D }` (batch mode, see
    /// `SharedBatch`). Answers the store when the filter is shared and the file has a `shared_state`
    /// section, and the batch settings in batch mode. `limit` (a name and a value) is what `batch`
    /// must not exceed: a batch larger than the limit would let one instance hold all of it.
    /// Problems are recorded with their positions (`sluice check` reports them without a store).
    static func setting(_ config: ConfigMap, _ setup: FilterSetup,
                        limit: (name: String, value: Int)?) -> (store: (any SharedStore)?, batch: SharedBatch?) {
        guard let node = config.node("shared"), !node.isNull else { return (nil, nil) }
        guard node.mapping != nil else {
            return (config.bool("shared", default: false) ? setup.sharedStore : nil, nil)
        }
        let map = ConfigMap(node, diagnostics: config.diagnostics, context: "shared")
        map.require("batch")
        let size = map.int("batch", in: 1...1_000_000_000_000)
        let hold = map.duration("hold", default: SharedBatch.defaultHold, in: .milliseconds(10)...Duration.seconds(60))
        map.finish()
        if let size, let limit, size > limit.value {
            map.error("'batch' (\(size)) must not be larger than '\(limit.name)' (\(limit.value))", atValueOf: "batch")
        }
        return (setup.sharedStore, size.map { SharedBatch(size: $0, hold: hold) })
    }

    /// `PREFIX:KIND:{CHAIN}:NAME`: the start of every key of one filter instance. The braces are a
    /// Redis Cluster hash tag: every key of a chain is in one slot, so one script may touch the keys
    /// of several filters (the engine batches a request's calls, see `SharedLimitFilter`). The chain
    /// and the name keep the state across reloads and keep two chains apart.
    static func keyBase(_ store: any SharedStore, kind: String, setup: FilterSetup) -> String {
        "\(store.keyPrefix):\(kind):{\(setup.chain)}:\(setup.name)"
    }

    /// The 503 of `on_failure: closed`, or of any shared limit that cannot be checked.
    static func unavailable(filter: String, _ failure: SharedStoreFailure) -> ProxyError {
        // What Redis said (a system error, an address) is the operator's, not the client's.
        ProxyError(.overloaded, "the shared limit cannot be checked; try again shortly",
                   source: .filter(filter), retryAfterSeconds: 1, logDetail: failure.description)
    }

    /// The Redis time arguments scripts share: milliseconds as text.
    static func milliseconds(_ duration: Duration) -> String {
        let (seconds, attoseconds) = duration.components
        return String(max(1, seconds * 1000 + attoseconds / 1_000_000_000_000_000))
    }
}
