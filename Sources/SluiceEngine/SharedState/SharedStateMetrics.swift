import Prometheus
import SluiceFilterAPI
import SluiceRedis
import Synchronization

/// The `sluice_shared_state_*` series: Redis round trips, commands by result, failure policies
/// applied, and each worker's connection. Made once per engine, when a filter file first has a
/// `shared_state` section. Thread-safe.
final class SharedStateMetrics: Sendable {
    private let roundTrip: DurationHistogram
    private let ok: Prometheus.Counter
    private let error: Prometheus.Counter
    private let timeout: Prometheus.Counter
    private let unavailable: Prometheus.Counter
    private let policies: [SharedFailurePolicy: Prometheus.Counter]
    private let connected: [Prometheus.Gauge]
    private let answeredLocally: Prometheus.Counter
    private let answeredByRoundTrip: Prometheus.Counter

    init(registry: PrometheusCollectorRegistry, workers: Int) {
        roundTrip = registry.makeDurationHistogram(descriptor: ProxyMetrics.descriptor("sluice_shared_state_command_seconds"),
                                                   buckets: ProxyMetrics.durationBuckets("sluice_shared_state_command_seconds"))
        let commands = ProxyMetrics.descriptor("sluice_shared_state_commands_total")
        ok = registry.makeCounter(descriptor: commands, labels: [("result", "ok")])
        error = registry.makeCounter(descriptor: commands, labels: [("result", "error")])
        timeout = registry.makeCounter(descriptor: commands, labels: [("result", "timeout")])
        unavailable = registry.makeCounter(descriptor: commands, labels: [("result", "unavailable")])
        let applied = ProxyMetrics.descriptor("sluice_shared_state_policy_applied_total")
        var policies: [SharedFailurePolicy: Prometheus.Counter] = [:]
        for policy in SharedFailurePolicy.allCases {
            policies[policy] = registry.makeCounter(descriptor: applied, labels: [("policy", policy.rawValue)])
        }
        self.policies = policies
        let decisions = ProxyMetrics.descriptor("sluice_shared_state_decisions_total")
        answeredLocally = registry.makeCounter(descriptor: decisions, labels: [("answered", "locally")])
        answeredByRoundTrip = registry.makeCounter(descriptor: decisions, labels: [("answered", "round_trip")])
        connected = (0..<max(1, workers)).map {
            registry.makeGauge(descriptor: ProxyMetrics.descriptor("sluice_shared_state_connected"), labels: [("worker", String($0))])
        }
    }

    /// One command ended (a worker's loop thread).
    func commandFinished(_ outcome: RedisOutcome, after elapsed: Duration) {
        switch outcome {
        case .reply(let value):
            roundTrip.record(elapsed)
            (value.errorMessage == nil ? ok : error).increment()
        case .timeout: timeout.increment()
        case .unavailable: unavailable.increment()
        }
    }

    /// A shared limit answered by its failure policy.
    func policyApplied(_ policy: SharedFailurePolicy) {
        policies[policy]?.increment()
    }

    /// A shared limit decided a request: from what the instance held (batch mode), or after a round trip.
    func decided(locally: Bool) {
        (locally ? answeredLocally : answeredByRoundTrip).increment()
    }

    /// `worker`'s connection went up or down.
    func connection(worker: Int, isUp: Bool) {
        guard connected.indices.contains(worker) else { return }
        connected[worker].set(isUp ? 1.0 : 0.0)
    }
}
