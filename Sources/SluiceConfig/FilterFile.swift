import SluiceFilterAPI

/// A validated filter file: what the proxy listens on, where it sends traffic, and which filter
/// chain each request passes through. Produced by `FilterFileLoader`; every name it holds
/// refers to something defined in the same file.
public struct FilterFile: Sendable {
    /// The file's path as given to the loader.
    public var path: String
    /// At least one, with unique names and unique non-zero-port addresses.
    public var listeners: [ListenerSpec]
    /// The admin endpoint (health, metrics), or nil when the file has no `admin` section.
    public var admin: AdminSpec?
    /// Upstream groups in file order, with unique names.
    public var upstreams: [UpstreamGroupSpec]
    /// Routes in file order: at least one, each naming a chain and an upstream group defined here.
    public var routes: [RouteSpec]
    /// Chains in file order, with unique names.
    public var chains: [ChainSpec]
    public var limits: LimitsSpec
    /// The `access_log` section, or nil when the file has none (the engine's default applies).
    public var accessLog: AccessLogSpec?
    /// The `shared_state` section: the Redis server filters with `shared: true` use, or nil.
    public var sharedState: SharedStateSpec?

    public init(
        path: String, listeners: [ListenerSpec], admin: AdminSpec? = nil, upstreams: [UpstreamGroupSpec],
        routes: [RouteSpec], chains: [ChainSpec], limits: LimitsSpec = LimitsSpec(), accessLog: AccessLogSpec? = nil,
        sharedState: SharedStateSpec? = nil
    ) {
        self.sharedState = sharedState
        self.accessLog = accessLog
        self.path = path
        self.listeners = listeners
        self.admin = admin
        self.upstreams = upstreams
        self.routes = routes
        self.chains = chains
        self.limits = limits
    }

    public func upstream(named name: String) -> UpstreamGroupSpec? {
        upstreams.first { $0.name == name }
    }

    public func chain(named name: String) -> ChainSpec? {
        chains.first { $0.name == name }
    }
}
