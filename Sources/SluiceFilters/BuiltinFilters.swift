import SluiceFilterAPI

/// The built-in filter types. Each registers under the name used in filter files.
public enum BuiltinFilters {
    /// Registers every built-in filter type into `registry`.
    public static func register(into registry: FilterRegistry) {
        // One line per built-in filter type, in alphabetical order.
        // (backpressure, circuit_breaker, drain, retry and timeouts register here as they land.)
        registry.register("connection_manager") { ConnectionManagerFilter($0) }
        _ = registry
    }

    /// A registry holding the built-ins only.
    public static func registry() -> FilterRegistry {
        let registry = FilterRegistry()
        register(into: registry)
        return registry
    }
}
