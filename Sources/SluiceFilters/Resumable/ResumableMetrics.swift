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

    /// How a resume was answered.
    enum ResumeResult: String, CaseIterable {
        case replayed, notFound = "not_found", gone, badRequest = "bad_request"
    }

    /// Why a detached upstream was cancelled.
    enum CancelReason: String, CaseIterable {
        case window, maxBytes = "max_bytes", lost
    }

    init(_ setup: FilterSetup) {
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
    }
}
