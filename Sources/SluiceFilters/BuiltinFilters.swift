import SluiceFilterAPI

/// The built-in filter types. Each registers under the name used in filter files.
public enum BuiltinFilters {
    /// Registers every built-in filter type into `registry`.
    public static func register(into registry: FilterRegistry) {
        // One line per built-in filter type, in alphabetical order.
        registry.register("admission") { AdmissionFilter($0) }
        registry.register("backpressure") { BackpressureFilter($0) }
        registry.register("circuit_breaker") { CircuitBreakerFilter($0) }
        registry.register("connection_manager") { ConnectionManagerFilter($0) }
        registry.register("drain") { DrainFilter($0) }
        registry.register("hedge") { HedgeFilter($0) }
        registry.register("resumable") { ResumableFilter($0) }
        registry.register("retry") { RetryFilter($0) }
        registry.register("timeouts") { TimeoutsFilter($0) }
        registry.register("token_bucket") { TokenBucketFilter($0) }
        _ = registry
    }

    /// A registry holding the built-ins only.
    public static func registry() -> FilterRegistry {
        let registry = FilterRegistry()
        register(into: registry)
        return registry
    }
}
