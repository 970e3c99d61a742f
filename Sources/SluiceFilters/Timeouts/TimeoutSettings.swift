import SluiceFilterAPI

/// The decoded `config:` of a `timeouts` filter: which timers it runs and for how long. Every
/// timer is optional; nil means "not watched". See `TimeoutsFilter` for what each one measures.
public struct TimeoutSettings: Sendable, Equatable {
    /// `connect`: from this filter's `selectUpstream` to the attempt's upstream connection being ready.
    public var connect: Duration?
    /// `response_head`: from the connection being ready (the request goes out then) to the upstream's head.
    public var responseHead: Duration?
    /// `first_token`: from the upstream's head to the first content event (SSE responses only).
    public var firstToken: Duration?
    /// `between_tokens`: the longest silence allowed after a content event before the next one (SSE only).
    public var betweenTokens: Duration?
    /// `total`: from the request head's arrival to the end of the exchange, attempts and waits included.
    public var total: Duration?
    /// `heartbeat`: after this long with nothing sent to the client on an SSE stream, send `: keepalive`.
    public var heartbeat: Duration?

    /// What any of the timers may be set to.
    public static let allowedRange: ClosedRange<Duration> = .milliseconds(1)...(.seconds(86_400))
    /// What `heartbeat` may be set to: a shorter period would be a flood of comments, not a keepalive.
    public static let heartbeatRange: ClosedRange<Duration> = .milliseconds(10)...(.seconds(3_600))

    public init(connect: Duration? = nil, responseHead: Duration? = nil, firstToken: Duration? = nil,
                betweenTokens: Duration? = nil, total: Duration? = nil, heartbeat: Duration? = nil) {
        self.connect = connect
        self.responseHead = responseHead
        self.firstToken = firstToken
        self.betweenTokens = betweenTokens
        self.total = total
        self.heartbeat = heartbeat
    }

    /// True when some timer needs to see the response's SSE events (`wantsEvents`).
    public var watchesEvents: Bool {
        firstToken != nil || betweenTokens != nil || heartbeat != nil
    }

    /// Reads the settings from a filter's config. Problems are recorded in `config.diagnostics`
    /// with positions: a value that is not a duration or is out of range, no timer set at all, and
    /// `client_header` (which belongs to `limits.client_header_timeout`, see `TimeoutsFilter`).
    /// Unknown keys are reported by the caller's `finish()`.
    public static func decode(_ config: ConfigMap) -> TimeoutSettings {
        var settings = TimeoutSettings()
        // Read in the documented order: it is the order "known keys" are listed in messages.
        settings.connect = config.duration("connect", in: allowedRange)
        settings.responseHead = config.duration("response_head", in: allowedRange)
        settings.firstToken = config.duration("first_token", in: allowedRange)
        settings.betweenTokens = config.duration("between_tokens", in: allowedRange)
        settings.total = config.duration("total", in: allowedRange)
        settings.heartbeat = config.duration("heartbeat", in: heartbeatRange)
        let keys = ["connect", "response_head", "first_token", "between_tokens", "total", "heartbeat"]
        // `has` rather than the values: a key that is present but malformed already has its own error.
        if !keys.contains(where: config.has) {
            config.error("timeouts needs at least one of \(keys.joined(separator: ", "))", atValueOf: "connect")
        }
        // The request head is read before any route, so before any chain: a filter cannot time it.
        // A precise pointer beats a generic "unknown key" for the one timer people will look for here.
        if let node = config.node("client_header") {
            config.diagnostics.error(
                "'client_header' is not a timeouts setting: the request head is read before a route and its chain "
                    + "are chosen, so its timeout is the file's limits.client_header_timeout (default 30s)",
                at: config.keyMark("client_header") ?? node.mark)
        }
        return settings
    }
}
