import SluiceIO

/// Where a `RedisClient` connects and how. Immutable; any thread.
public struct RedisEndpoint: Sendable {
    public var host: String
    public var port: Int
    /// Non-nil for `rediss://`: the client context (verification, CA file).
    public var tls: TLSContext?
    /// The name sent in SNI and checked against the server's certificate.
    public var serverName: String?
    /// ACL user for `AUTH user password`; nil sends `AUTH password` (the default user).
    public var username: String?
    /// nil: no AUTH. Never logged.
    public var password: String?
    /// SELECT this database after connecting (0: no SELECT).
    public var database: Int
    /// How long one command may wait for its answer.
    public var commandTimeout: Duration
    /// How long a connection (TCP, TLS, AUTH, SELECT) may take.
    public var connectTimeout: Duration
    /// The pause before reconnecting grows from `backoff.first` to `backoff.limit`.
    public var backoff: ReconnectBackoff

    public init(host: String, port: Int, tls: TLSContext? = nil, serverName: String? = nil, username: String? = nil,
                password: String? = nil, database: Int = 0, commandTimeout: Duration = .milliseconds(50),
                connectTimeout: Duration = .seconds(1), backoff: ReconnectBackoff = ReconnectBackoff()) {
        self.host = host
        self.port = port
        self.tls = tls
        self.serverName = serverName
        self.username = username
        self.password = password
        self.database = database
        self.commandTimeout = commandTimeout
        self.connectTimeout = connectTimeout
        self.backoff = backoff
    }
}
