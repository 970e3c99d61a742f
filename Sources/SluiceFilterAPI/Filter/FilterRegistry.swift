import CoreMetrics
import Synchronization

/// What a filter factory gets to build one filter instance.
public struct FilterSetup {
    /// The filter's type name as written in the file (`token_bucket`).
    public var type: String
    /// The filter's name in its chain (defaults to the type). With the chain name, its identity across reloads.
    public var name: String
    /// The chain the filter is in.
    public var chain: String
    /// The filter's `config:` mapping. Read every key through it; unknown keys are reported for you.
    public var config: ConfigMap
    /// The instance with the same chain and name in the chain being replaced by a reload, if any:
    /// carry shared state (bucket levels, breaker states) over from it. It is still serving: the
    /// exchanges in flight on the old chain keep calling its hooks on the worker threads until they
    /// end, while the new instance already serves new exchanges. Share state with it through
    /// thread-safe objects (move a reference to them), never by copying a value that both then change.
    public var previous: (any Filter)?
    /// The clock to read time from (`ManualClock` in tests). Keep it and use it for all time logic.
    public var clock: any SluiceClock
    /// How many worker threads will call the filter concurrently.
    public var workers: Int
    /// Where the filter reports what it decided: pass it as `factory:` to swift-metrics' `Counter`,
    /// `Gauge`, `Recorder` and `Timer`. The proxy serves what it gets on the admin listener's
    /// `/metrics` in the Prometheus text format; `sluice check` hands out a factory that discards.
    ///
    /// Handles are thread-safe: make them once here and share them across workers. Use
    /// ``metricDimensions`` as (the start of) the dimensions, so two instances of one filter type
    /// stay apart. A name reused with another metric kind, or one of the proxy's own names, gets a
    /// handle that discards (and a warning in the log) instead of taking the process down. Keep label
    /// values few: never an API key, a client address or a request id.
    public var metrics: any MetricsFactory
    /// The Redis-backed store of the file's `shared_state:` section, for filters with `shared: true`;
    /// nil when the file has none (the file check already refused `shared: true` then) and in
    /// `sluice check`.
    public var sharedStore: (any SharedStore)?

    /// A setup built by hand, to construct a filter in a unit test without a filter file. Metrics
    /// go nowhere unless a factory is given.
    public init(type: String, name: String, chain: String, config: ConfigMap, previous: (any Filter)?, clock: any SluiceClock,
                workers: Int, metrics: any MetricsFactory = NOOPMetricsHandler.instance, sharedStore: (any SharedStore)? = nil) {
        self.sharedStore = sharedStore
        self.type = type
        self.name = name
        self.chain = chain
        self.config = config
        self.previous = previous
        self.clock = clock
        self.workers = workers
        self.metrics = metrics
    }

    /// `chain` and `filter` labels naming this instance, for the filter's own metrics.
    public var metricDimensions: [(String, String)] { [("chain", chain), ("filter", name)] }
}

/// Builds a filter from its config. Problems with the config are recorded through `setup.config`
/// (positioned errors) — return a filter anyway, it is discarded when the file has errors. Throw only
/// for problems that have no position.
///
/// Runs on the thread that loads the filter file: the main thread at start, the engine's control
/// thread on a reload, the calling thread in `sluice check` and in tests. Never on a worker's loop
/// thread, so it may take its time (read a file, compile patterns) but must not block on a worker.
/// It may run while the workers serve exchanges through `setup.previous`.
public typealias FilterFactory = @Sendable (FilterSetup) throws -> any Filter

/// Maps type names in the filter file to factories. Built-in filters and users' own register the same
/// way, before the file is loaded. Thread-safe.
public final class FilterRegistry: Sendable {
    private let factories = Mutex<[String: FilterFactory]>([:])

    /// An empty registry. `BuiltinFilters.registry()` makes one holding the built-in types.
    public init() {}

    /// Registers `type`; a second registration of the same name replaces the first.
    public func register(_ type: String, _ factory: @escaping FilterFactory) {
        factories.withLock { $0[type] = factory }
    }

    /// The factory registered for `type`, or nil.
    public func factory(for type: String) -> FilterFactory? {
        factories.withLock { $0[type] }
    }

    /// Every registered type name; `sluice check` uses it to report unknown types with a suggestion.
    public var typeNames: Set<String> {
        factories.withLock { Set($0.keys) }
    }
}
