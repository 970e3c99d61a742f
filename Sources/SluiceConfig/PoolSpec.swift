/// How an upstream group keeps connections to its endpoints (`upstreams.<name>.pool`).
public struct PoolSpec: Sendable {
    /// Idle keep-alive connections kept per endpoint (`max_idle`, 0...10000, default 32); 0
    /// closes every connection after its response.
    public var maxIdlePerEndpoint: Int = 32
    /// An idle connection is closed after this long (`idle_timeout`, 1s...1h, default 60s).
    public var idleTimeout: Duration = .seconds(60)
    /// Giving up on opening a connection (TCP and TLS handshake) after this long
    /// (`connect_timeout`, 100ms...5m, default 10s).
    public var connectTimeout: Duration = .seconds(10)

    public init() {}

    public init(maxIdlePerEndpoint: Int = 32, idleTimeout: Duration = .seconds(60), connectTimeout: Duration = .seconds(10)) {
        self.maxIdlePerEndpoint = maxIdlePerEndpoint
        self.idleTimeout = idleTimeout
        self.connectTimeout = connectTimeout
    }
}
