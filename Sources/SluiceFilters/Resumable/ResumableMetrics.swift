import SluiceFilterAPI

/// A `resumable` filter's series on `/metrics`. Handles are thread-safe; made once per instance
/// (a reload's new instance gets the same series).
struct ResumableMetrics: Sendable {
    /// `sluice_resumable_kept_bytes`: bytes of events kept, all streams.
    let keptBytes: Gauge
    /// `sluice_resumable_kept_streams`: streams kept, live and ended.
    let keptStreams: Gauge
    /// `sluice_resumable_resumes_total{result}`: resumes by answer.
    let resumes: [ResumeResult: Counter]
    /// `sluice_resumable_streams_lost_total{reason}`: streams that stopped being kept before
    /// their window ended (or at it: `expired`).
    let lost: [StreamLoss: Counter]
    /// `sluice_resumable_upstreams_kept_total`: upstreams kept running after their client left.
    let upstreamsKept: Counter
    /// `sluice_resumable_upstreams_cancelled_total{reason}`: detached upstreams cancelled at
    /// `window` or `max_bytes`.
    let upstreamsCancelled: [CancelReason: Counter]
    /// With `shared: true` only: the Redis store's series.
    let shared: Shared?

    /// The series of a `RedisStreamStore`.
    struct Shared: Sendable {
        /// `sluice_resumable_shared_writes_total{result}`: scripts that copy streams to Redis
        /// (begin, append, end, keep-alive), by result: ok, failed (no answer in time, Redis down).
        let writes: [Bool: Counter]
        /// `sluice_resumable_shared_reads_total{result}`: lookups and fetches of streams read from
        /// Redis, by result: ok, failed.
        let reads: [Bool: Counter]
        /// `sluice_resumable_shared_incomplete_total`: streams whose copy in Redis missed an event
        /// and was given up (they resume on their own instance only).
        let incomplete: Counter
        /// `sluice_resumable_shared_resumes_total`: resumes served from Redis (streams this
        /// instance does not hold).
        let resumes: Counter
    }

    /// How a resume was answered.
    enum ResumeResult: String, CaseIterable {
        case replayed, notFound = "not_found", gone, badRequest = "bad_request", unavailable
    }

    /// Why a detached upstream was cancelled.
    enum CancelReason: String, CaseIterable {
        case window, maxBytes = "max_bytes", lost
    }

    init(_ setup: FilterSetup, shared: Bool) {
        let labels = setup.metricDimensions
        let factory = setup.metrics
        keptBytes = Gauge(label: "sluice_resumable_kept_bytes", dimensions: labels, factory: factory)
        keptStreams = Gauge(label: "sluice_resumable_kept_streams", dimensions: labels, factory: factory)
        resumes = Dictionary(uniqueKeysWithValues: ResumeResult.allCases.map {
            ($0, Counter(label: "sluice_resumable_resumes_total", dimensions: labels + [("result", $0.rawValue)], factory: factory))
        })
        let losses: [StreamLoss] = [.expired, .evicted, .memoryCap, .tooLarge]
        lost = Dictionary(uniqueKeysWithValues: losses.map {
            ($0, Counter(label: "sluice_resumable_streams_lost_total", dimensions: labels + [("reason", $0.rawValue)], factory: factory))
        })
        upstreamsKept = Counter(label: "sluice_resumable_upstreams_kept_total", dimensions: labels, factory: factory)
        upstreamsCancelled = Dictionary(uniqueKeysWithValues: CancelReason.allCases.map {
            ($0, Counter(label: "sluice_resumable_upstreams_cancelled_total", dimensions: labels + [("reason", $0.rawValue)],
                         factory: factory))
        })
        self.shared = shared ? Shared(
            writes: Self.okOrFailed("sluice_resumable_shared_writes_total", labels, factory),
            reads: Self.okOrFailed("sluice_resumable_shared_reads_total", labels, factory),
            incomplete: Counter(label: "sluice_resumable_shared_incomplete_total", dimensions: labels, factory: factory),
            resumes: Counter(label: "sluice_resumable_shared_resumes_total", dimensions: labels, factory: factory)) : nil
    }

    private static func okOrFailed(_ label: String, _ labels: [(String, String)], _ factory: any MetricsFactory) -> [Bool: Counter] {
        [true: Counter(label: label, dimensions: labels + [("result", "ok")], factory: factory),
         false: Counter(label: label, dimensions: labels + [("result", "failed")], factory: factory)]
    }
}
