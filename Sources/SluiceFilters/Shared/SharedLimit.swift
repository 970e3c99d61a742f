import SluiceFilterAPI

/// What the built-in filters with `shared: true` have in common: reading the setting, naming their
/// Redis keys, and the answer of `on_failure: closed`.
enum SharedLimit {
    /// Reads `shared` from `config`: the store when it is true and the file has a `shared_state`
    /// section, else nil. (The file check reports `shared: true` without the section, with its
    /// position; `sluice check` builds filters without a store, so nothing more is said here.)
    static func store(_ config: ConfigMap, _ setup: FilterSetup) -> (any SharedStore)? {
        config.bool("shared", default: false) ? setup.sharedStore : nil
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
