/// The one error type of the proxy and its filters: what went wrong, whose fault it was, and
/// how to tell the client, before or after the response head went out.
///
/// A filter that rejects a request throws or returns one of these; the engine makes them for
/// its own failures (timeouts, upstream trouble). Each one renders itself: as a whole JSON
/// response (`renderedResponse(dialect:)`) while nothing has been sent, or as a final SSE event
/// (`sseEvent(dialect:)`) once a stream is under way.
public struct ProxyError: Error, Sendable, CustomStringConvertible {
    /// What went wrong. The raw value is the stable name clients see (`error.type` in the
    /// OpenAI shape, `error.sluice_kind` in the Anthropic shape) and logs and metrics use.
    /// Defaults per kind: `defaultStatus`, `defaultRetryable`, `anthropicErrorType`.
    public enum Kind: String, Sendable, CaseIterable {
        /// The request is malformed or fails a filter's checks.
        case badRequest = "bad_request"
        /// No or bad credentials.
        case unauthorized
        /// Credentials are fine but this is not allowed (path, model, address).
        case forbidden
        /// No route for this request.
        case notFound = "not_found"
        /// The request head or body exceeds a limit.
        case requestTooLarge = "request_too_large"
        /// A rate limit or quota refused the request (set `retryAfterSeconds`).
        case rateLimited = "rate_limited"
        /// The proxy is at its concurrency limit and does not queue.
        case overloaded
        /// The request waited in the admission queue too long.
        case queueTimeout = "queue_timeout"
        /// Every eligible upstream's circuit breaker is open.
        case circuitOpen = "circuit_open"
        /// No upstream is configured or healthy for this route.
        case noUpstream = "no_upstream"
        /// Connecting to the upstream failed (refused, DNS, TLS).
        case connectFailed = "connect_failed"
        /// Connecting to the upstream took too long.
        case connectTimeout = "connect_timeout"
        /// The upstream accepted the request but sent no response head in time.
        case responseHeadTimeout = "response_head_timeout"
        /// The upstream sent its head but no content event in time.
        case firstTokenTimeout = "first_token_timeout"
        /// The upstream went silent mid-stream for too long.
        case idleTimeout = "idle_timeout"
        /// The whole exchange exceeded its time budget.
        case totalTimeout = "total_timeout"
        /// The upstream closed or reset the connection.
        case upstreamReset = "upstream_reset"
        /// The upstream broke HTTP or SSE framing.
        case upstreamProtocol = "upstream_protocol_error"
        /// The upstream reported an error of its own.
        case upstreamError = "upstream_error"
        /// The client was too slow sending its request.
        case clientTimeout = "client_timeout"
        /// The client closed its connection before the exchange ended. Nothing is sent: it is for logs
        /// and metrics, where it must not read as a malformed request.
        case clientClosed = "client_closed"
        /// The client read the response too slowly and the proxy gave up buffering for it.
        case slowClient = "slow_client"
        /// The connection or stream reached its maximum age.
        case maxAge = "max_age"
        /// The proxy is shutting down.
        case serverShutdown = "server_shutdown"
        /// A bug or an unexpected state in the proxy.
        case internalError = "internal_error"
    }

    /// Whose side the failure is on; for logs and metrics, not sent to clients.
    public enum Source: Sendable, Equatable, CustomStringConvertible {
        case client, upstream, proxy
        /// Raised by the named filter.
        case filter(String)

        /// `client`, `upstream`, `proxy` or `filter NAME`.
        public var description: String {
            switch self {
            case .client: return "client"
            case .upstream: return "upstream"
            case .proxy: return "proxy"
            case .filter(let name): return "filter \(name)"
            }
        }
    }

    /// What went wrong; sets the defaults for status and retryability.
    public var kind: Kind
    /// Whose side the failure is on (logs and metrics only).
    public var source: Source
    /// Human-readable detail, sent to the client. Do not put secrets, upstream addresses or
    /// system errors here: they belong in `logDetail`.
    public var message: String
    /// What only the operator may see: an upstream's address, a system error (`Connection
    /// refused`). Written to the log and the access log (`error_detail`), never rendered to the
    /// client. nil when the message says it all.
    public var logDetail: String?
    /// Whether sending the same request again may succeed and is safe because the upstream
    /// produced no output for it. The engine uses it to decide whether to retry elsewhere; it
    /// is not sent to the client (the status code and `retry-after` say that). Default:
    /// `kind.defaultRetryable`.
    public var retryable: Bool
    /// The HTTP status used when the error is rendered as a response. Default: `kind.defaultStatus`.
    public var status: Int
    /// When set (and not negative), responses carry `retry-after` with this many seconds.
    public var retryAfterSeconds: Int?
    /// Extra response headers, appended after the standard ones (e.g. `RateLimit-*`). Do not
    /// repeat `content-type`, `content-length` or `retry-after` here.
    public var headers: [(String, String)]
    /// The error type the client's SDK should see instead of the one `kind` implies: OpenAI's
    /// `error.type` (e.g. `invalid_request_error`) or Anthropic's `error.type`. Nil: the kind's
    /// raw value for OpenAI clients, `kind.anthropicErrorType` for Anthropic clients.
    public var clientType: String?
    /// OpenAI's `error.code` as a string (e.g. `context_length_exceeded`) instead of the numeric
    /// status. Anthropic errors have no code; it is left out there.
    public var code: String?

    /// An error of `kind` with a message for the client. `status` and `retryable` default from
    /// `kind` (`defaultStatus`, `defaultRetryable`). A filter that refuses a request usually passes
    /// `source: .filter(name)`; what the client must not see goes in `logDetail`. Any thread: it is
    /// a value.
    public init(
        _ kind: Kind,
        _ message: String,
        source: Source = .proxy,
        status: Int? = nil,
        retryable: Bool? = nil,
        retryAfterSeconds: Int? = nil,
        headers: [(String, String)] = [],
        clientType: String? = nil,
        code: String? = nil,
        logDetail: String? = nil
    ) {
        self.kind = kind
        self.message = message
        self.logDetail = logDetail
        self.source = source
        self.status = status ?? kind.defaultStatus
        self.retryable = retryable ?? kind.defaultRetryable
        self.retryAfterSeconds = retryAfterSeconds
        self.headers = headers
        self.clientType = clientType
        self.code = code
    }

    /// `kind (source, status): message [logDetail]`, e.g. `first_token_timeout (upstream, 504): no
    /// token in 30s`; for logs, since it includes `logDetail`.
    public var description: String {
        "\(kind.rawValue) (\(source), \(status)): \(message)" + (logDetail.map { " [\($0)]" } ?? "")
    }
}

extension ProxyError: Equatable {
    /// Equal when every field is, headers compared in order.
    public static func == (lhs: ProxyError, rhs: ProxyError) -> Bool {
        lhs.kind == rhs.kind && lhs.source == rhs.source && lhs.message == rhs.message
            && lhs.retryable == rhs.retryable && lhs.status == rhs.status
            && lhs.retryAfterSeconds == rhs.retryAfterSeconds && lhs.clientType == rhs.clientType
            && lhs.code == rhs.code && lhs.logDetail == rhs.logDetail
            && lhs.headers.elementsEqual(rhs.headers, by: ==)
    }
}
