import SluiceFilterAPI

/// The Redis server that filters with `shared: true` keep their state in (`shared_state:`), so that
/// every Sluice instance pointing at it enforces one limit together.
///
/// ```yaml
/// shared_state:
///   url: rediss://redis.internal:6380/0   # redis:// or rediss:// (TLS); the path is the database
///   ca_file: /etc/sluice/redis-ca.pem     # rediss: trusted CAs (default: the system's); verify: true by default
///   username: sluice                      # ACL user (omit for the default user)
///   password_env: SLUICE_REDIS_PASSWORD   # or password_file: PATH, or password: TEXT
///   key_secret_env: SLUICE_KEY_SECRET     # keyed hash of client keys in Redis (default: the password)
///   key_prefix: sluice                    # every key starts with it
///   timeout: 50ms                         # per command
///   connect_timeout: 1s
///   lease_ttl: 30s                        # a stream lease lives this long unless renewed
///   on_failure: local                     # local (per-instance limits), open (admit) or closed (503)
/// ```
public struct SharedStateSpec: Sendable, Equatable {
    /// What filters do while Redis cannot answer in time.
    public typealias FailurePolicy = SharedFailurePolicy

    public var host: String
    public var port: Int
    public var database: Int
    /// `rediss://`.
    public var tls: Bool
    /// `verify` (default true): check the server's certificate and name.
    public var verify: Bool
    /// `ca_file`, resolved; nil: the system's CAs.
    public var caFile: String?
    /// `server_name`: the name checked instead of the host.
    public var serverName: String?
    public var username: String?
    /// Resolved from `password`, `password_env` or `password_file`. Never logged or shown.
    public var password: String?
    /// Where the password came from, for `/admin/chain`: `env:NAME`, `file:PATH`, `inline`, or nil.
    public var passwordSource: String?
    /// The secret of the keyed hash that turns client keys (API keys) into Redis key parts. nil:
    /// the password, or no secret at all when there is none.
    public var keySecret: String?
    public var keyPrefix: String
    public var timeout: Duration
    public var connectTimeout: Duration
    public var leaseTTL: Duration
    public var onFailure: FailurePolicy
    /// Where the section starts, for messages.
    public var mark: SourceMark

    public init(host: String, port: Int = 6379, database: Int = 0, tls: Bool = false, verify: Bool = true, caFile: String? = nil,
                serverName: String? = nil, username: String? = nil, password: String? = nil, passwordSource: String? = nil,
                keySecret: String? = nil, keyPrefix: String = "sluice", timeout: Duration = .milliseconds(50),
                connectTimeout: Duration = .seconds(1), leaseTTL: Duration = .seconds(30), onFailure: FailurePolicy = .local,
                mark: SourceMark = SourceMark(path: "", line: 1, column: 1)) {
        self.host = host
        self.port = port
        self.database = database
        self.tls = tls
        self.verify = verify
        self.caFile = caFile
        self.serverName = serverName
        self.username = username
        self.password = password
        self.passwordSource = passwordSource
        self.keySecret = keySecret
        self.keyPrefix = keyPrefix
        self.timeout = timeout
        self.connectTimeout = connectTimeout
        self.leaseTTL = leaseTTL
        self.onFailure = onFailure
        self.mark = mark
    }

    /// The URL without credentials, as shown by `/admin/chain` and in logs.
    public var displayURL: String {
        let host = self.host.contains(":") ? "[\(self.host)]" : self.host
        return "\(tls ? "rediss" : "redis")://\(host):\(port)/\(database)"
    }

    /// True when a connection to this spec is the same as to `other` (everything but the key
    /// prefix, the failure policy and the lease TTL, which apply per use).
    public func sameConnection(as other: SharedStateSpec) -> Bool {
        host == other.host && port == other.port && database == other.database && tls == other.tls && verify == other.verify
            && caFile == other.caFile && serverName == other.serverName && username == other.username
            && password == other.password && timeout == other.timeout && connectTimeout == other.connectTimeout
    }
}
