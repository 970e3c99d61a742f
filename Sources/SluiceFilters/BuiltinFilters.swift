import SluiceFilterAPI

/// The built-in filter types. Each registers under the name used in filter files.
public enum BuiltinFilters {
    /// Registers every built-in filter type into `registry`.
    public static func register(into registry: FilterRegistry) {
        // The built-in filters (token_bucket, connection_manager, admission, backpressure, timeouts,
        // circuit_breaker, retry, drain) register here as they land, one file each.
        _ = registry
    }

    /// A registry holding the built-ins only.
    public static func registry() -> FilterRegistry {
        let registry = FilterRegistry()
        register(into: registry)
        return registry
    }
}
