import Logging
import Prometheus
import SluiceFilterAPI
import Synchronization

/// The engine's metrics: one Prometheus registry per engine (so tests can run several engines in
/// one process), the engine's own series, and the factory the filters report through. Served as
/// text on the admin listener's `/metrics`. Thread-safe.
final class ProxyMetrics: Sendable {
    let registry = PrometheusCollectorRegistry()
    let filterFactory: FilterMetricsFactory
    private let routes = Mutex<[String: RouteMetrics]>([:])
    private let errors: [ProxyError.Kind: Prometheus.Counter]
    private let reloadsSucceeded: Prometheus.Counter
    private let reloadsFailed: Prometheus.Counter
    let accessLogDropped: Prometheus.Counter
    private let chainVersion: Prometheus.Gauge
    private let streamsOnPreviousChains: Prometheus.Gauge
    private let draining: Prometheus.Gauge
    private let drainingStreams: Prometheus.Gauge
    private let openConnections: Prometheus.Gauge
    private let maxConnections: Prometheus.Gauge
    private let connectionsRefused: [ConnectionRefusal: Prometheus.Counter]
    private let idleConnectionsClosed: Prometheus.Counter
    private let process: ProcessMetrics
    private let loopLag = Mutex<[Int: Prometheus.Gauge]>([:])
    /// `sluice_requests_total{route="(none)"}` by status, for requests no route took.
    private let unrouted = Mutex<[Int: Prometheus.Counter]>([:])

    init(logger: Logger) {
        filterFactory = FilterMetricsFactory(registry: registry, logger: logger)
        let errorDescriptor = Self.descriptor("sluice_errors_total")
        var errors: [ProxyError.Kind: Prometheus.Counter] = [:]
        for kind in ProxyError.Kind.allCases {
            errors[kind] = registry.makeCounter(descriptor: errorDescriptor, labels: [("kind", kind.rawValue)])
        }
        self.errors = errors
        let reloads = Self.descriptor("sluice_reloads_total")
        reloadsSucceeded = registry.makeCounter(descriptor: reloads, labels: [("result", "succeeded")])
        reloadsFailed = registry.makeCounter(descriptor: reloads, labels: [("result", "failed")])
        accessLogDropped = registry.makeCounter(descriptor: Self.descriptor("sluice_access_log_dropped_total"))
        chainVersion = registry.makeGauge(descriptor: Self.descriptor("sluice_chain_version"))
        streamsOnPreviousChains = registry.makeGauge(descriptor: Self.descriptor("sluice_streams_on_previous_chains"))
        draining = registry.makeGauge(descriptor: Self.descriptor("sluice_draining"))
        drainingStreams = registry.makeGauge(descriptor: Self.descriptor("sluice_draining_streams"))
        openConnections = registry.makeGauge(descriptor: Self.descriptor("sluice_open_connections"))
        maxConnections = registry.makeGauge(descriptor: Self.descriptor("sluice_max_connections"))
        let refused = Self.descriptor("sluice_connections_refused_total")
        var refusals: [ConnectionRefusal: Prometheus.Counter] = [:]
        for reason in ConnectionRefusal.allCases {
            refusals[reason] = registry.makeCounter(descriptor: refused, labels: [("reason", reason.rawValue)])
        }
        connectionsRefused = refusals
        idleConnectionsClosed = registry.makeCounter(descriptor: Self.descriptor("sluice_idle_connections_closed_total"))
        process = ProcessMetrics(registry: registry)
    }

    /// Why a client connection was closed at accept (the `reason` label).
    enum ConnectionRefusal: String, CaseIterable, Sendable {
        case maxConnections = "max_connections"
        case perIP = "per_ip"
        case outOfDescriptors = "out_of_descriptors"
    }

    /// Counts `count` connections closed at accept. Any thread.
    func connectionsRefused(_ reason: ConnectionRefusal, count: Int = 1) {
        connectionsRefused[reason]?.increment(by: Int64(count))
    }

    /// Counts an idle connection closed to make room for a new one. Any thread.
    func idleConnectionClosed() {
        idleConnectionsClosed.increment()
    }

    static func descriptor(_ name: String) -> MetricNameDescriptor {
        guard let entry = MetricCatalog.entry(named: name) else { preconditionFailure("\(name) is not in MetricCatalog") }
        return MetricNameDescriptor(metricName: name, unitName: "", helpText: entry.help)
    }

    static func durationBuckets(_ name: String) -> [Duration] {
        (MetricCatalog.entry(named: name)?.buckets ?? MetricCatalog.latencyBuckets).map(Duration.seconds(fraction:))
    }

    /// The series of `route`, made on first use. Any thread.
    func route(_ name: String) -> RouteMetrics {
        routes.withLock { known in
            if let existing = known[name] { return existing }
            let made = RouteMetrics(route: name, registry: registry)
            known[name] = made
            return made
        }
    }

    /// The `outcome` label: the outcome kind, except that failures and truncations caused by one of
    /// the upstream timers read `timed_out`, the figure operators alert on.
    static func outcomeLabel(_ outcome: Outcome) -> String {
        switch outcome.kind {
        case .failed, .truncated:
            switch outcome.error?.kind {
            case .connectTimeout?, .responseHeadTimeout?, .firstTokenTimeout?, .idleTimeout?, .totalTimeout?: return "timed_out"
            default: return outcome.kind.rawValue
            }
        default:
            return outcome.kind.rawValue
        }
    }

    /// Records an exchange's end: request, error and decision counts, and its per-stream figures.
    /// The exchange's loop thread.
    func exchangeEnded(_ x: Exchange, _ outcome: Outcome, route: RouteMetrics) {
        let label = Self.outcomeLabel(outcome)
        route.countRequest(status: outcome.status ?? 0, outcome: label)
        if outcome.kind != .completed, outcome.kind != .clientGone, let error = outcome.error {
            errors[error.kind]?.increment()
        }
        if let filter = outcome.decidedBy { route.countDecision(filter: filter, outcome: label) }
        if outcome.kind == .upstreamError { route.countUpstreamErrorEvent(type: x.tokens.errorType) }

        let tokens = x.tokens
        if let prompt = tokens.usage?.promptTokens, prompt > 0 { route.promptTokensFromUsage.increment(by: Int64(prompt)) }
        if let completion = tokens.usage?.completionTokens {
            if completion > 0 { route.completionTokensFromUsage.increment(by: Int64(completion)) }
        } else if tokens.contentEvents > 0 {
            route.completionTokensCounted.increment(by: Int64(tokens.contentEvents))
        }
        if tokens.contentEvents >= 2 {
            route.longestTokenGap.record(x.timings.longestTokenGap)
            if let first = x.timings.firstToken, let last = x.timings.lastToken {
                let seconds = Double(last.since(first).nanosecondsClamped) / 1e9
                // The first event's tokens arrived at `first`; the rest took the time after it.
                if seconds > 0 { route.tokensPerSecond.record(Double(tokens.completionTokens - 1) / seconds) }
            }
        }
        if x.isEventStream, let end = x.timings.end {
            route.streamDuration.record(end.since(x.timings.start))
        }
        if x.counters.clientPauses > 0 {
            route.backpressurePauses.increment(by: Int64(x.counters.clientPauses))
            route.backpressurePausedSeconds.increment(by: Double(x.counters.clientPausedTime.nanosecondsClamped) / 1e9)
        }
    }

    /// Counts a request the proxy answered itself before any route took it: no route (404), a
    /// malformed request (400, 413, 431, ...), a client too slow with its head (408). Any thread.
    func answeredWithoutRoute(_ error: ProxyError) {
        let counter = unrouted.withLock { known in
            if let existing = known[error.status] { return existing }
            let made = registry.makeCounter(descriptor: Self.descriptor("sluice_requests_total"),
                                            labels: [("route", "(none)"), ("status", String(error.status)), ("outcome", "rejected")])
            known[error.status] = made
            return made
        }
        counter.increment()
        errors[error.kind]?.increment()
    }

    func reloaded(succeeded: Bool) {
        (succeeded ? reloadsSucceeded : reloadsFailed).increment()
    }

    /// What the engine knows at scrape time, for the gauges that are read rather than counted.
    struct EngineState {
        var chainVersion: Int
        var streamsOnPreviousChains: Int
        var draining: Bool
        var activeStreams: Int
        var openConnections: Int
        var maxConnections: Int
        var loopLags: [Duration]
    }

    /// The Prometheus text exposition, with the read-at-scrape gauges brought up to date first.
    /// Any thread.
    func render(_ state: EngineState) -> [UInt8] {
        chainVersion.set(Double(state.chainVersion))
        streamsOnPreviousChains.set(Double(state.streamsOnPreviousChains))
        draining.set(state.draining ? 1.0 : 0.0)
        drainingStreams.set(state.draining ? Double(state.activeStreams) : 0.0)
        openConnections.set(Double(state.openConnections))
        maxConnections.set(Double(state.maxConnections))
        loopLag.withLock { gauges in
            for (worker, lag) in state.loopLags.enumerated() {
                let gauge = gauges[worker] ?? registry.makeGauge(
                    descriptor: Self.descriptor("sluice_event_loop_lag_seconds"), labels: [("worker", String(worker))])
                gauges[worker] = gauge
                gauge.set(Double(lag.nanosecondsClamped) / 1e9)
            }
        }
        process.update()
        var buffer = registry.emitToBuffer()
        emitDurationHistograms(into: &buffer)
        return buffer
    }

    /// The routes' duration histograms, which the registry does not hold (see `BatchedHistogram`): a
    /// family per histogram, a series per route, after the registry's families.
    private func emitDurationHistograms(into buffer: inout [UInt8]) {
        let series = routes.withLock { $0.values.sorted { $0.route < $1.route } }
        guard let first = series.first else { return }
        let labels = series.map { "route=\"\(Self.escapedLabelValue($0.route))\"" }
        for (family, (name, _)) in first.durationFamilies.enumerated() {
            guard let entry = MetricCatalog.entry(named: name) else { continue }
            buffer.append(contentsOf: "# HELP \(name) \(entry.help)\n# TYPE \(name) histogram\n".utf8)
            for (route, label) in zip(series, labels) {
                route.durationFamilies[family].histogram.emit(name: name, labels: label, into: &buffer)
            }
        }
    }

    /// A label value as the text format wants it: backslash, quote and line feed escaped.
    private static func escapedLabelValue(_ value: String) -> String {
        value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "\n", with: "\\n")
    }
}
