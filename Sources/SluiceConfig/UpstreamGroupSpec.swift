import SluiceFilterAPI

/// A named set of interchangeable backends that routes send requests to (`upstreams.<name>`).
public struct UpstreamGroupSpec: Sendable {
    /// The mapping key under `upstreams`.
    public var name: String
    /// At least one.
    public var endpoints: [EndpointSpec]
    public var balance: BalancePolicy
    public var pool: PoolSpec
    /// Used for `https` endpoints only.
    public var tls: ClientTLSSpec
    /// The group's name key in the file.
    public var mark: SourceMark

    public init(
        name: String, endpoints: [EndpointSpec], balance: BalancePolicy = .roundRobin,
        pool: PoolSpec = PoolSpec(), tls: ClientTLSSpec = ClientTLSSpec(), mark: SourceMark
    ) {
        self.name = name
        self.endpoints = endpoints
        self.balance = balance
        self.pool = pool
        self.tls = tls
        self.mark = mark
    }
}
