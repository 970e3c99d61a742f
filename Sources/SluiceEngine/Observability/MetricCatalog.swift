/// Every metric the proxy and its built-in filters export on `/metrics`: name, kind, labels, help
/// text and histogram buckets, in one place. The README's metric table is written from this list,
/// and `FilterMetricsFactory` uses it to give the built-in filters' metrics their help text and
/// buckets and to keep custom filters off the engine's names.
///
/// Labels are chosen so a series count stays small: routes, chains, filters, endpoints and
/// workers come from the filter file; statuses, outcomes, kinds and timers are closed sets. A
/// client address, an API key or a request id is never a label.
public enum MetricCatalog {
    /// The Prometheus type the metric is exported as.
    public enum Kind: String, Sendable {
        case counter, gauge, histogram
    }

    /// Who updates a metric: the engine itself, or a built-in filter through `FilterSetup.metrics`.
    public enum Owner: Sendable {
        /// The engine, always exported.
        case engine
        /// The engine, exported only when the filter file has a `shared_state` section.
        case sharedState
        /// A built-in filter, through `FilterSetup.metrics`.
        case filter
    }

    /// One metric.
    public struct Entry: Sendable {
        /// The exported name (a histogram's series add `_bucket`, `_count` and `_sum`).
        public let name: String
        public let kind: Kind
        /// Label names, besides a histogram's `le`.
        public let labels: [String]
        /// The `# HELP` text.
        public let help: String
        public let owner: Owner
        /// Upper bounds for a histogram: seconds for durations, plain values otherwise.
        public let buckets: [Double]
    }

    static let latencyBuckets: [Double] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60]
    static let gapBuckets: [Double] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]
    static let durationBuckets: [Double] = [0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800]
    static let redisBuckets: [Double] = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1]
    static let rateBuckets: [Double] = [1, 2, 5, 10, 20, 35, 50, 75, 100, 150, 200, 500, 1000]

    private static func e(_ name: String, _ kind: Kind, _ labels: [String], _ help: String, owner: Owner = .engine,
                          buckets: [Double] = []) -> Entry {
        Entry(name: name, kind: kind, labels: labels, help: help, owner: owner, buckets: buckets)
    }

    /// Every metric, engine's first, then the built-in filters'.
    public static let entries: [Entry] = [
        // Streams and requests.
        e("sluice_active_streams", .gauge, ["route"], "Exchanges in flight (queued, connecting or streaming), by route."),
        e("sluice_requests_total", .counter, ["route", "status", "outcome"],
          "Exchanges ended, by route ((none): answered before any route took it, e.g. 404 or a malformed request), status sent to the client (0: none) and outcome (completed, rejected, failed, timed_out, truncated, upstream_error, client_gone)."),
        e("sluice_errors_total", .counter, ["kind"], "Exchanges that ended with an error, by error kind (rate_limited, first_token_timeout, upstream_reset, upstream_error, ...)."),
        e("sluice_upstream_error_events_total", .counter, ["route", "type"],
          "Streams in which the upstream sent an error event (outcome upstream_error), by the type it named: Anthropic's and OpenAI's documented error types (overloaded_error, server_error, rate_limit_exceeded, ...), other for any other, none when it named none."),
        e("sluice_filter_decisions_total", .counter, ["route", "filter", "outcome"],
          "Exchanges whose outcome a filter decided (a rejection, a reply, a failure), by the deciding filter."),
        // Time to first token and its parts.
        e("sluice_time_to_first_token_seconds", .histogram, ["route"],
          "From the request head's arrival to the first content event from the upstream.", buckets: latencyBuckets),
        e("sluice_admission_wait_seconds", .histogram, ["route"],
          "Part of TTFT: time in the request filters before the first upstream attempt (the admission queue, rate-limit waits).",
          buckets: latencyBuckets),
        e("sluice_upstream_connect_seconds", .histogram, ["route"],
          "Part of TTFT: from an attempt's start to its upstream connection being ready (zero-ish for a pooled connection).",
          buckets: latencyBuckets),
        e("sluice_upstream_response_head_seconds", .histogram, ["route"],
          "Part of TTFT: from the upstream connection being ready (request sent) to the upstream's response head.",
          buckets: latencyBuckets),
        e("sluice_first_content_event_seconds", .histogram, ["route"],
          "Part of TTFT: from the upstream's response head to its first content event.", buckets: latencyBuckets),
        // The stream itself.
        e("sluice_token_gap_seconds", .histogram, ["route"], "Gaps between consecutive content events of a stream.", buckets: gapBuckets),
        e("sluice_longest_token_gap_seconds", .histogram, ["route"], "The longest gap between content events, one sample per stream.",
          buckets: gapBuckets),
        e("sluice_tokens_total", .counter, ["route", "type", "source"],
          "Tokens streamed: type prompt or completion; source usage (the upstream's usage report) or counted (content events counted)."),
        e("sluice_tokens_per_second", .histogram, ["route"],
          "Completion tokens per second from the first to the last content event, one sample per stream of 2 or more events.",
          buckets: rateBuckets),
        e("sluice_stream_duration_seconds", .histogram, ["route"], "Duration of event streams, from the request head to the end.",
          buckets: durationBuckets),
        e("sluice_backpressure_pauses_total", .counter, ["route"],
          "Times upstream reads were paused because the client had more than its high watermark unread."),
        e("sluice_backpressure_paused_seconds_total", .counter, ["route"], "Time upstream reads spent paused for slow clients."),
        // Lifecycle.
        e("sluice_reloads_total", .counter, ["result"], "Filter file reloads, by result (succeeded, failed)."),
        e("sluice_chain_version", .gauge, [], "The chain version in force (1 at start, +1 per successful reload)."),
        e("sluice_streams_on_previous_chains", .gauge, [], "Exchanges still running on a chain version a reload replaced."),
        e("sluice_draining", .gauge, [], "1 while the process drains for shutdown."),
        e("sluice_draining_streams", .gauge, [], "Exchanges still in flight while the process drains (0 when not draining)."),
        e("sluice_open_connections", .gauge, [], "Client connections open."),
        e("sluice_max_connections", .gauge, [], "limits.max_connections in force."),
        e("sluice_connections_refused_total", .counter, ["reason"],
          "Client connections closed at accept, by reason: max_connections (the proxy is full and no idle connection could make room), per_ip (limits.max_connections_per_ip), out_of_descriptors (answered 503 from the reserved descriptor)."),
        e("sluice_idle_connections_closed_total", .counter, [],
          "Idle client connections (no request in progress) closed to make room for a new client at limits.max_connections."),
        e("sluice_event_loop_lag_seconds", .gauge, ["worker"], "How late each worker's event loop ran its last 100 ms probe."),
        e("sluice_access_log_dropped_total", .counter, [], "Access log lines dropped because the output could not keep up."),
        // Process.
        e("process_open_fds", .gauge, [], "Open file descriptors."),
        e("process_max_fds", .gauge, [], "The file descriptor limit."),
        e("process_resident_memory_bytes", .gauge, [], "Resident set size."),
        e("process_cpu_seconds_total", .counter, [], "User and system CPU time used."),
        e("process_start_time_seconds", .gauge, [], "Start time of the process since the Unix epoch."),
        // Shared state (Redis), only with a shared_state section.
        e("sluice_shared_state_command_seconds", .histogram, [],
          "Round-trip time of shared-state commands to Redis, from being given to being answered (answered commands only).",
          owner: .sharedState, buckets: redisBuckets),
        e("sluice_shared_state_commands_total", .counter, ["result"],
          "Shared-state commands to Redis by result: ok, error (an error reply or a bad answer), timeout, unavailable (not sent or connection lost).",
          owner: .sharedState),
        e("sluice_shared_state_policy_applied_total", .counter, ["policy"],
          "Times a shared limit applied shared_state.on_failure (local, open, closed) because Redis did not answer in time.",
          owner: .sharedState),
        e("sluice_shared_state_decisions_total", .counter, ["answered"],
          "Requests a shared limit decided, by how: locally (from a slice or block the instance held, with shared: { batch: N }; no round trip) or round_trip (after a script in Redis).",
          owner: .sharedState),
        e("sluice_shared_state_connected", .gauge, ["worker"], "1 while the worker's Redis connection is up and authenticated, else 0.",
          owner: .sharedState),
        // Built-in filters (through FilterSetup.metrics).
        e("sluice_rate_limited_total", .counter, ["chain", "filter"], "Requests refused with 429 by a token_bucket filter.", owner: .filter),
        e("sluice_admission_admitted_total", .counter, ["chain", "filter"], "Requests an admission filter let through.", owner: .filter),
        e("sluice_admission_queued_total", .counter, ["chain", "filter"], "Requests that had to wait in an admission queue.", owner: .filter),
        e("sluice_admission_shed_total", .counter, ["chain", "filter", "reason"],
          "Requests an admission filter refused, by reason: queue_full, client_share, queue_timeout, loop_lag.", owner: .filter),
        e("sluice_admission_queue_length", .gauge, ["chain", "filter"], "Requests waiting in an admission queue now.", owner: .filter),
        e("sluice_admission_in_flight", .gauge, ["chain", "filter"], "Requests an admission filter admitted that are still running.",
          owner: .filter),
        e("sluice_connection_manager_refused_total", .counter, ["chain", "filter", "reason"],
          "Requests a connection_manager refused: per_client or total stream limits.", owner: .filter),
        e("sluice_connection_manager_active_streams", .gauge, ["chain", "filter"], "Streams holding a connection_manager slot now.",
          owner: .filter),
        e("sluice_connection_manager_max_age_total", .counter, ["chain", "filter"], "Streams a connection_manager ended at max_age.",
          owner: .filter),
        e("sluice_retries_total", .counter, ["chain", "filter"], "Retries a retry filter started.", owner: .filter),
        e("sluice_retry_budget_refusals_total", .counter, ["chain", "filter"], "Retries a retry filter wanted but its budget refused.",
          owner: .filter),
        e("sluice_hedges_total", .counter, ["chain", "filter", "result"],
          "Hedged attempts a hedge filter started, by result: started, won (it took the exchange over), lost (cancelled), failed (before its first content).",
          owner: .filter),
        e("sluice_hedge_budget_refusals_total", .counter, ["chain", "filter"], "Hedges a hedge filter wanted but its budget refused.",
          owner: .filter),
        e("sluice_hedge_first_token_saved_seconds", .histogram, ["chain", "filter"],
          "Per won hedge, the first-token time it saved, estimated from the route's measured first-token times beyond the wait at which it won.",
          owner: .filter, buckets: latencyBuckets),
        e("sluice_circuit_breaker_state", .gauge, ["chain", "filter", "endpoint"], "Breaker state per endpoint: 0 closed, 1 half-open, 2 open.",
          owner: .filter),
        e("sluice_circuit_breaker_opened_total", .counter, ["chain", "filter", "endpoint"], "Times a breaker opened.", owner: .filter),
        e("sluice_circuit_breaker_rejected_total", .counter, ["chain", "filter"],
          "Requests answered 503 at once because every eligible endpoint's breaker was open.", owner: .filter),
        e("sluice_slow_clients_cut_total", .counter, ["chain", "filter"],
          "Streams a backpressure filter ended because the client read nothing for slow_client_timeout.", owner: .filter),
        e("sluice_timeouts_total", .counter, ["chain", "filter", "timer"],
          "Exchanges a timeouts filter ended, by timer: connect, response_head, first_token, between_tokens, total.", owner: .filter),
        e("sluice_resumable_kept_bytes", .gauge, ["chain", "filter"],
          "Bytes of SSE events a resumable filter keeps now, every stream together (bounded by max_total_bytes).", owner: .filter),
        e("sluice_resumable_kept_streams", .gauge, ["chain", "filter"], "Streams a resumable filter keeps now, live and ended.",
          owner: .filter),
        e("sluice_resumable_resumes_total", .counter, ["chain", "filter", "result"],
          "Resume requests, by answer: replayed (200), not_found (404), gone (410), bad_request (400, 405).", owner: .filter),
        e("sluice_resumable_streams_lost_total", .counter, ["chain", "filter", "reason"],
          "Streams a resumable filter stopped keeping, by reason: expired, evicted (an ended stream dropped under max_total_bytes), memory_cap (a live stream that did not fit), too_large.",
          owner: .filter),
        e("sluice_resumable_upstreams_kept_total", .counter, ["chain", "filter"],
          "Upstreams a resumable filter kept running after their client left.", owner: .filter),
        e("sluice_resumable_upstreams_cancelled_total", .counter, ["chain", "filter", "reason"],
          "Detached upstreams a resumable filter cancelled, by reason: window, max_bytes, lost (the stream stopped being kept).",
          owner: .filter),
    ]

    /// The entry for `name`, or nil when the proxy does not export it.
    public static func entry(named name: String) -> Entry? { byName[name] }

    private static let byName: [String: Entry] = Dictionary(uniqueKeysWithValues: entries.map { ($0.name, $0) })
}
