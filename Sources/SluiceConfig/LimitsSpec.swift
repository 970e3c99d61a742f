/// Limits that protect the proxy from clients (`limits:`). Every field is optional in the file.
public struct LimitsSpec: Sendable {
    /// Largest request head (request line plus headers) accepted from a client
    /// (`max_header_bytes`, 1KiB...1MiB, default 32KiB); larger heads get 431.
    public var maxHeaderBytes: Int = 32 * 1024
    /// Most header fields accepted in one request (`max_headers`, 1...1000, default 100);
    /// more get 431.
    public var maxHeaders: Int = 100
    /// Largest request body accepted (`max_request_body`, 0...1GiB, default 10MiB); larger get
    /// 413. LLM requests carry whole conversations and images, hence the generous default.
    public var maxRequestBody: Int = 10 * 1024 * 1024
    /// How long an idle client connection is kept open between requests
    /// (`client_keepalive_timeout`, 0s...1h, default 60s); 0s closes after each response.
    public var clientKeepAliveTimeout: Duration = .seconds(60)
    /// How long a client may take to send a complete request head once it has started one
    /// (`client_header_timeout`, 1s...10m, default 30s), against slow-header attacks.
    public var clientHeaderTimeout: Duration = .seconds(30)
    /// Most client connections open at once across all listeners (`max_connections`,
    /// 1...1000000, default 10000); further connections are accepted and closed at once. Near the
    /// limit, connections idle for at least a second are closed, oldest first, to make room.
    public var maxConnections: Int = 10_000
    /// Whether request header fields with `_` in their name reach the upstream
    /// (`allow_underscores_in_headers`, default false: they are dropped, as nginx does, because backends that
    /// read `_` as `-` would take `Transfer_Encoding` for a framing field).
    public var allowUnderscoresInHeaderNames = false
    /// Most client connections open at once from one IP address, across all listeners and workers
    /// (`max_connections_per_ip`, 0...1000000, default 0: no limit); further connections from that
    /// address are accepted and closed at once. Behind a load balancer every connection comes from
    /// the balancer's few addresses, hence no limit by default.
    public var maxConnectionsPerIP: Int = 0

    public init() {}

    public init(
        maxHeaderBytes: Int = 32 * 1024, maxHeaders: Int = 100, maxRequestBody: Int = 10 * 1024 * 1024,
        clientKeepAliveTimeout: Duration = .seconds(60), clientHeaderTimeout: Duration = .seconds(30),
        maxConnections: Int = 10_000, maxConnectionsPerIP: Int = 0
    ) {
        self.maxHeaderBytes = maxHeaderBytes
        self.maxHeaders = maxHeaders
        self.maxRequestBody = maxRequestBody
        self.clientKeepAliveTimeout = clientKeepAliveTimeout
        self.clientHeaderTimeout = clientHeaderTimeout
        self.maxConnections = maxConnections
        self.maxConnectionsPerIP = maxConnectionsPerIP
    }
}
