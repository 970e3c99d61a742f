/// What the console takes from one scrape of the engine's own registry: each route's cumulative
/// counts, and each filter's series (by chain and filter). Read on the control loop from the same
/// text `/metrics` serves, so the data path records nothing for the console. Pure.
struct ConsoleReading: Sendable {
    /// One route's cumulative figures.
    struct Route: Sendable, Equatable {
        var active = 0.0
        var requests = 0.0
        /// `sluice_requests_total` summed by outcome label.
        var outcomes: [String: Double] = [:]
        var timeToFirstToken = HistogramCounts()
        /// The parts of time to first token, by the console's name for each.
        var parts: [String: HistogramCounts] = [:]
        var completionTokens = 0.0
        var streamTokensPerSecond = HistogramCounts()
    }

    /// One sample of a filter's series, with the labels besides chain and filter (endpoint, reason, timer).
    struct FilterSample: Sendable, Equatable {
        var metric: String
        var labels: [String: String]
        var value: Double
    }

    /// The parts of time to first token, in the order they happen, with the metric each comes from.
    static let parts: [(name: String, metric: String)] = [
        ("queue", "sluice_admission_wait_seconds"),
        ("connect", "sluice_upstream_connect_seconds"),
        ("head", "sluice_upstream_response_head_seconds"),
        ("first_content", "sluice_first_content_event_seconds"),
    ]

    var routes: [String: Route] = [:]
    /// Keyed by `chain` then `filter` label.
    var filters: [String: [String: [FilterSample]]] = [:]

    init() {}

    init(_ scrape: MetricsScrape) {
        let partByMetric = Dictionary(uniqueKeysWithValues: Self.parts.map { ($0.metric, $0.name) })
        for s in scrape.samples {
            if let chain = s.labels["chain"], let filter = s.labels["filter"] {
                var rest = s.labels
                rest["chain"] = nil
                rest["filter"] = nil
                filters[chain, default: [:]][filter, default: []].append(FilterSample(metric: s.name, labels: rest, value: s.value))
                continue
            }
            guard let name = s.labels["route"] else { continue }
            var r = routes[name] ?? Route()
            switch s.name {
            case "sluice_active_streams": r.active = s.value
            case "sluice_requests_total":
                r.requests += s.value
                r.outcomes[s.labels["outcome"] ?? "", default: 0] += s.value
            case "sluice_tokens_total" where s.labels["type"] == "completion": r.completionTokens += s.value
            default:
                Self.histogramSample(s, base: "sluice_time_to_first_token_seconds", into: &r.timeToFirstToken)
                Self.histogramSample(s, base: "sluice_tokens_per_second", into: &r.streamTokensPerSecond)
                for (metric, part) in partByMetric where s.name.hasPrefix(metric) {
                    Self.histogramSample(s, base: metric, into: &r.parts[part, default: HistogramCounts()])
                }
            }
            routes[name] = r
        }
    }

    private static func histogramSample(_ s: MetricsScrape.Sample, base: String, into h: inout HistogramCounts) {
        guard s.name.hasPrefix(base) else { return }
        switch s.name.dropFirst(base.count) {
        case "_bucket":
            guard let le = s.labels["le"] else { return }
            h.addBucket(le: le == "+Inf" ? .infinity : Double(le) ?? .infinity, count: s.value)
        case "_sum": h.sum += s.value
        case "_count": h.count += s.value
        default: return
        }
    }

    /// Breaker states (0 closed, 1 half-open, 2 open) keyed `chain|filter|endpoint`, for the history.
    var breakerStates: [String: Double] {
        var states: [String: Double] = [:]
        for (chain, byFilter) in filters {
            for (filter, samples) in byFilter {
                for s in samples where s.metric == "sluice_circuit_breaker_state" {
                    states["\(chain)|\(filter)|\(s.labels["endpoint"] ?? "")"] = s.value
                }
            }
        }
        return states
    }
}
