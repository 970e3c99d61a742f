import Foundation
import SluiceConfig
import SluiceEngine
import SluiceTesting
import Testing

/// `examples/observability/`: the Grafana dashboard and the alert rules parse, and every metric
/// they query is one the proxy exports (a renamed metric would otherwise leave a dashboard blank
/// and an alert silent without anyone noticing). Neither file was rendered or loaded by a
/// Grafana or an Alertmanager here; `promtool check rules` was run on the rules by hand.
@Suite
struct ObservabilityExamplesTests {
    static let directory: String = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent()  // SluiceEngineTests
        .deletingLastPathComponent()  // Tests
        .deletingLastPathComponent()  // the repository root
        .appendingPathComponent("examples/observability")
        .path

    private func read(_ name: String) throws -> String {
        try String(contentsOfFile: Self.directory + "/" + name, encoding: .utf8)
    }

    /// Metric names in a PromQL expression: `sluice_*` and `process_*` words, with a histogram's
    /// `_bucket`, `_count` and `_sum` series mapped back to the histogram.
    static func metricNames(in expression: String) -> Set<String> {
        var names: Set<String> = []
        var word = ""
        func flush() {
            if word.hasPrefix("sluice_") || word.hasPrefix("process_") {
                var name = word
                for suffix in ["_bucket", "_count", "_sum"] where name.hasSuffix(suffix) {
                    let base = String(name.dropLast(suffix.count))
                    if MetricCatalog.entry(named: base)?.kind == .histogram { name = base }
                }
                names.insert(name)
            }
            word = ""
        }
        for c in expression {
            if c.isLetter || c.isNumber || c == "_" { word.append(c) } else { flush() }
        }
        flush()
        return names
    }

    @Test func theDashboardParsesAndQueriesOnlyExportedMetrics() throws {
        let data = Data(try read("grafana-dashboard.json").utf8)
        let dashboard = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let panels = try #require(dashboard["panels"] as? [[String: Any]])
        var expressions: [String] = []
        for panel in panels {
            for target in panel["targets"] as? [[String: Any]] ?? [] {
                if let expr = target["expr"] as? String { expressions.append(expr) }
            }
        }
        #expect(expressions.count >= 25)
        let used = expressions.reduce(into: Set<String>()) { $0.formUnion(Self.metricNames(in: $1)) }
        let unknown = used.filter { MetricCatalog.entry(named: $0) == nil }
        #expect(unknown.isEmpty, "not exported: \(unknown.sorted())")
        // The figures each have a panel.
        for needed in ["sluice_active_streams", "sluice_requests_total", "sluice_time_to_first_token_seconds",
                       "sluice_admission_wait_seconds", "sluice_upstream_connect_seconds", "sluice_upstream_response_head_seconds",
                       "sluice_first_content_event_seconds", "sluice_token_gap_seconds", "sluice_longest_token_gap_seconds",
                       "sluice_tokens_total", "sluice_tokens_per_second", "sluice_stream_duration_seconds", "sluice_errors_total",
                       "sluice_rate_limited_total", "sluice_admission_queue_length", "sluice_admission_shed_total",
                       "sluice_retries_total", "sluice_retry_budget_refusals_total", "sluice_circuit_breaker_state",
                       "sluice_backpressure_pauses_total", "sluice_slow_clients_cut_total", "sluice_timeouts_total",
                       "sluice_reloads_total", "sluice_draining_streams", "process_open_fds", "process_resident_memory_bytes",
                       "sluice_event_loop_lag_seconds", "sluice_upstream_error_events_total"] {
            #expect(used.contains(needed), "no panel shows \(needed)")
        }
    }

    @Test func theAlertRulesParseAndQueryOnlyExportedMetrics() throws {
        let text = try read("alerts.yml")
        let root = try YAMLLoader.load(text: text, path: "alerts.yml")
        let groups = try #require(root["groups"]?.sequence)
        var alerts: [String: String] = [:]
        for group in groups {
            for rule in group["rules"]?.sequence ?? [] {
                if let name = rule["alert"]?.scalar, let expr = rule["expr"]?.scalar { alerts[name] = expr }
            }
        }
        for needed in ["SluiceTimeToFirstTokenP95High", "SluiceErrorRateHigh", "SluiceCircuitBreakerOpen", "SluiceConnectionsNearLimit"] {
            #expect(alerts[needed] != nil, "missing alert \(needed)")
        }
        let used = alerts.values.reduce(into: Set<String>()) { $0.formUnion(Self.metricNames(in: $1)) }
        let unknown = used.filter { MetricCatalog.entry(named: $0) == nil }
        #expect(unknown.isEmpty, "not exported: \(unknown.sorted())")
        #expect(alerts["SluiceTimeToFirstTokenP95High"]?.contains("histogram_quantile(0.95") == true)
        // An error event inside a stream is a failure too (issue 12, item 10).
        #expect(alerts["SluiceErrorRateHigh"]?.contains("upstream_error") == true)
    }

    @Test func theScrapeConfigPointsAtTheAdminMetricsPath() throws {
        let root = try YAMLLoader.load(text: try read("prometheus.yml"), path: "prometheus.yml")
        let job = try #require(root["scrape_configs"]?.sequence?.first)
        #expect(job["metrics_path"]?.scalar == "/metrics")
        #expect(root["rule_files"]?.sequence?.first?.scalar == "alerts.yml")
    }

    @Test func theReadmeExplainsEveryMetric() throws {
        let readme = try String(contentsOfFile: Self.directory + "/../../README.md", encoding: .utf8)
        let missing = MetricCatalog.entries.map(\.name).filter { !readme.contains("| `\($0)` |") }
        #expect(missing.isEmpty, "README's metric table lacks \(missing)")
    }

    @Test func theMetricNameScannerFindsHistogramBases() {
        let names = Self.metricNames(in: "histogram_quantile(0.9, sum by (le) (rate(sluice_token_gap_seconds_bucket[5m]))) / sluice_requests_total")
        #expect(names == ["sluice_token_gap_seconds", "sluice_requests_total"])
    }
}
