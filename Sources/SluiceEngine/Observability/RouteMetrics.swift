import Prometheus
import SluiceFilterAPI
import Synchronization

/// The series of one route, made once and shared by every worker (each update is atomic or takes
/// the series' own short lock). Exchanges look theirs up once, at their start.
final class RouteMetrics: Sendable {
    let route: String
    let activeStreams: Prometheus.Gauge
    // The duration histograms are Sluice's own (`BatchedHistogram`), written by `ProxyMetrics.render`
    // after the registry's families, in the order of `durationFamilies`.
    let timeToFirstToken: BatchedHistogram
    let admissionWait: BatchedHistogram
    let upstreamConnect: BatchedHistogram
    let upstreamResponseHead: BatchedHistogram
    let firstContentEvent: BatchedHistogram
    /// Fed in batches by each stream's `ResponseTap` (a sample per content event).
    let tokenGap: BatchedHistogram
    let longestTokenGap: BatchedHistogram
    let streamDuration: BatchedHistogram
    let tokensPerSecond: ValueHistogram
    let promptTokensFromUsage: Prometheus.Counter
    let completionTokensFromUsage: Prometheus.Counter
    let completionTokensCounted: Prometheus.Counter
    let backpressurePauses: Prometheus.Counter
    let backpressurePausedSeconds: Prometheus.Counter
    private let registry: PrometheusCollectorRegistry
    /// `sluice_requests_total` and `sluice_filter_decisions_total` series, made on first use: their
    /// label values (status, deciding filter) are only known at the end.
    private let ended = Mutex<[String: Prometheus.Counter]>([:])

    init(route: String, registry: PrometheusCollectorRegistry) {
        self.route = route
        self.registry = registry
        let labels = [("route", route)]
        activeStreams = registry.makeGauge(descriptor: ProxyMetrics.descriptor("sluice_active_streams"), labels: labels)
        func histogram(_ name: String) -> BatchedHistogram {
            BatchedHistogram(bounds: MetricCatalog.entry(named: name)?.buckets ?? MetricCatalog.latencyBuckets)
        }
        timeToFirstToken = histogram("sluice_time_to_first_token_seconds")
        admissionWait = histogram("sluice_admission_wait_seconds")
        upstreamConnect = histogram("sluice_upstream_connect_seconds")
        upstreamResponseHead = histogram("sluice_upstream_response_head_seconds")
        firstContentEvent = histogram("sluice_first_content_event_seconds")
        tokenGap = histogram("sluice_token_gap_seconds")
        longestTokenGap = histogram("sluice_longest_token_gap_seconds")
        streamDuration = histogram("sluice_stream_duration_seconds")
        tokensPerSecond = registry.makeValueHistogram(
            descriptor: ProxyMetrics.descriptor("sluice_tokens_per_second"), labels: labels,
            buckets: MetricCatalog.entry(named: "sluice_tokens_per_second")!.buckets)
        let tokens = ProxyMetrics.descriptor("sluice_tokens_total")
        promptTokensFromUsage = registry.makeCounter(descriptor: tokens, labels: labels + [("type", "prompt"), ("source", "usage")])
        completionTokensFromUsage = registry.makeCounter(descriptor: tokens, labels: labels + [("type", "completion"), ("source", "usage")])
        completionTokensCounted = registry.makeCounter(descriptor: tokens, labels: labels + [("type", "completion"), ("source", "counted")])
        backpressurePauses = registry.makeCounter(descriptor: ProxyMetrics.descriptor("sluice_backpressure_pauses_total"), labels: labels)
        backpressurePausedSeconds = registry.makeCounter(
            descriptor: ProxyMetrics.descriptor("sluice_backpressure_paused_seconds_total"), labels: labels)
    }

    /// The duration histograms by family name, in the order `/metrics` writes them.
    var durationFamilies: [(name: String, histogram: BatchedHistogram)] {
        [("sluice_time_to_first_token_seconds", timeToFirstToken), ("sluice_admission_wait_seconds", admissionWait),
         ("sluice_upstream_connect_seconds", upstreamConnect), ("sluice_upstream_response_head_seconds", upstreamResponseHead),
         ("sluice_first_content_event_seconds", firstContentEvent), ("sluice_token_gap_seconds", tokenGap),
         ("sluice_longest_token_gap_seconds", longestTokenGap), ("sluice_stream_duration_seconds", streamDuration)]
    }

    /// Counts one ended exchange in `sluice_requests_total`.
    func countRequest(status: Int, outcome: String) {
        // A route ends its exchanges with a handful of (status, outcome) pairs: found by comparing
        // them, with no key string to make and hash; past `recentLimit` pairs, by key.
        let known = recentRequests.withLock { recent in
            recent.first { $0.status == status && $0.outcome == outcome }?.counter
        }
        if let known { return known.increment() }
        let counter = counter("r|\(status)|\(outcome)") {
            registry.makeCounter(descriptor: ProxyMetrics.descriptor("sluice_requests_total"),
                                 labels: [("route", route), ("status", String(status)), ("outcome", outcome)])
        }
        recentRequests.withLock { recent in
            if recent.count < Self.recentLimit { recent.append((status, outcome, counter)) }
        }
        counter.increment()
    }

    /// How many (status, outcome) pairs `countRequest` finds without a key.
    private static let recentLimit = 32
    /// The `sluice_requests_total` series of the pairs seen first, up to `recentLimit`.
    private let recentRequests = Mutex<[(status: Int, outcome: String, counter: Prometheus.Counter)]>([])

    /// Counts one outcome decided by `filter` in `sluice_filter_decisions_total`.
    func countDecision(filter: String, outcome: String) {
        counter("d|\(filter)|\(outcome)") {
            registry.makeCounter(descriptor: ProxyMetrics.descriptor("sluice_filter_decisions_total"),
                                 labels: [("route", route), ("filter", filter), ("outcome", outcome)])
        }.increment()
    }

    /// Counts one stream that carried an upstream error event in `sluice_upstream_error_events_total`.
    func countUpstreamErrorEvent(type: String?) {
        let label = UpstreamErrorType.label(type)
        counter("u|\(label)") {
            registry.makeCounter(descriptor: ProxyMetrics.descriptor("sluice_upstream_error_events_total"),
                                 labels: [("route", route), ("type", label)])
        }.increment()
    }

    private func counter(_ key: String, _ make: () -> Prometheus.Counter) -> Prometheus.Counter {
        ended.withLock { known in
            if let existing = known[key] { return existing }
            let made = make()
            known[key] = made
            return made
        }
    }
}
