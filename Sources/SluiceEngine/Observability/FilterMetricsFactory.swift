import CoreMetrics
import Logging
import Prometheus
import Synchronization

/// The swift-metrics factory filters get as `FilterSetup.metrics`: it registers what they make in
/// the engine's Prometheus registry, so it shows on `/metrics`.
///
/// Prometheus refuses one name with two kinds, or with two help texts, by stopping the process. A
/// filter is user code that may do either, so this factory keeps a record of each name's kind and
/// hands out a discarding handle (and logs a warning once) for a name that clashes, or that the
/// engine itself owns. Names of the built-in filters take their help text and buckets from
/// `MetricCatalog`; other names get no help and the catalog's latency buckets. Thread-safe.
final class FilterMetricsFactory: MetricsFactory {
    private enum Family: Equatable {
        case counter, gauge, durationHistogram, valueHistogram
    }

    private let registry: PrometheusCollectorRegistry
    private let logger: Logger
    /// Names the engine updates itself: refused to filters outright.
    private let engineNames = Set(MetricCatalog.entries.filter { $0.owner != .filter }.map(\.name))
    private let families = Mutex<[String: Family]>([:])
    private let warned = Mutex<Set<String>>([])

    init(registry: PrometheusCollectorRegistry, logger: Logger) {
        self.registry = registry
        self.logger = logger
    }

    /// True when `name` may be registered as `family`; records the first kind a name gets.
    private func claim(_ name: String, as family: Family) -> Bool {
        let catalogued = MetricCatalog.entry(named: name)
        let ok: Bool
        if engineNames.contains(name) {
            ok = false
        } else if let catalogued, !Self.matches(catalogued.kind, family) {
            ok = false
        } else {
            ok = families.withLock { known in
                if let existing = known[name] { return existing == family }
                known[name] = family
                return true
            }
        }
        if !ok, warned.withLock({ $0.insert(name).inserted }) {
            logger.warning("a filter asked for metric '\(name)', whose name the proxy or another metric kind already uses; its values are discarded")
        }
        return ok
    }

    private static func matches(_ kind: MetricCatalog.Kind, _ family: Family) -> Bool {
        switch (kind, family) {
        case (.counter, .counter), (.gauge, .gauge), (.histogram, .durationHistogram), (.histogram, .valueHistogram): return true
        default: return false
        }
    }

    private func descriptor(_ name: String) -> MetricNameDescriptor {
        MetricNameDescriptor(metricName: name, unitName: "", helpText: MetricCatalog.entry(named: name)?.help ?? "")
    }

    private func buckets(_ name: String) -> [Double] {
        let listed = MetricCatalog.entry(named: name)?.buckets ?? []
        return listed.isEmpty ? MetricCatalog.latencyBuckets : listed
    }

    func makeCounter(label: String, dimensions: [(String, String)]) -> any CounterHandler {
        guard claim(label, as: .counter) else { return NOOPMetricsHandler.instance }
        return registry.makeCounter(descriptor: descriptor(label), labels: dimensions)
    }

    func makeFloatingPointCounter(label: String, dimensions: [(String, String)]) -> any FloatingPointCounterHandler {
        guard claim(label, as: .counter) else { return NOOPMetricsHandler.instance }
        return registry.makeCounter(descriptor: descriptor(label), labels: dimensions)
    }

    func makeMeter(label: String, dimensions: [(String, String)]) -> any MeterHandler {
        guard claim(label, as: .gauge) else { return NOOPMetricsHandler.instance }
        return registry.makeGauge(descriptor: descriptor(label), labels: dimensions)
    }

    func makeRecorder(label: String, dimensions: [(String, String)], aggregate: Bool) -> any RecorderHandler {
        if !aggregate {
            guard claim(label, as: .gauge) else { return NOOPMetricsHandler.instance }
            return registry.makeGauge(descriptor: descriptor(label), labels: dimensions)
        }
        guard claim(label, as: .valueHistogram) else { return NOOPMetricsHandler.instance }
        return registry.makeValueHistogram(descriptor: descriptor(label), labels: dimensions, buckets: buckets(label))
    }

    func makeTimer(label: String, dimensions: [(String, String)]) -> any TimerHandler {
        guard claim(label, as: .durationHistogram) else { return NOOPMetricsHandler.instance }
        return registry.makeDurationHistogram(descriptor: descriptor(label), labels: dimensions,
                                              buckets: buckets(label).map(Duration.seconds(fraction:)))
    }

    // Filters are rebuilt on every reload and ask for the same series again; a series lives as long
    // as the process, so there is nothing to free.
    func destroyCounter(_ handler: any CounterHandler) {}
    func destroyFloatingPointCounter(_ handler: any FloatingPointCounterHandler) {}
    func destroyMeter(_ handler: any MeterHandler) {}
    func destroyRecorder(_ handler: any RecorderHandler) {}
    func destroyTimer(_ handler: any TimerHandler) {}
}

extension Duration {
    /// `seconds` as a Duration, to the nanosecond.
    static func seconds(fraction seconds: Double) -> Duration {
        .nanoseconds(Int64((seconds * 1e9).rounded()))
    }
}
