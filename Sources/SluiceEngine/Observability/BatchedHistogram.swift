import Synchronization

/// A Prometheus histogram of durations that the registry does not hold, written by `ProxyMetrics.render`
/// after the registry's families. Fed one sample at a time (`record`), or in batches, for a series sampled
/// on every event of every stream (the gap
/// between tokens). Each stream counts its samples in a `Batch` of its own on its loop thread, with no
/// lock and no shared cache line, and adds the batch here every `Batch.flushEvery` samples and when it
/// ends: one lock per batch instead of one per event. Scrapes see a stream's samples at most
/// `flushEvery` samples late. Any thread.
final class BatchedHistogram: Sendable {
    /// Upper bounds of the buckets, ascending, in seconds; `+Inf` is implied.
    let bounds: [Double]
    /// Non-cumulative counts per bucket (the last one is `+Inf`), and the sum of all samples.
    private let state: Mutex<(counts: [UInt64], sum: Double)>

    init(bounds: [Double]) {
        self.bounds = bounds
        state = Mutex((Array(repeating: 0, count: bounds.count + 1), 0))
    }

    /// One stream's samples not yet added to the histogram. Loop thread of its stream.
    struct Batch {
        /// Samples a batch holds before it is added; bounds how late a scrape sees a long stream.
        static let flushEvery = 64
        /// Non-cumulative counts per bucket; empty until the first sample, so a short request costs nothing.
        private(set) var counts: [UInt32] = []
        private(set) var sum: Double = 0
        private(set) var samples = 0

        /// Counts one sample; true when the batch is full and should be added now.
        mutating func record(_ value: Duration, bounds: [Double]) -> Bool {
            let seconds = Double(value.components.seconds) + Double(value.components.attoseconds) * 1e-18
            return record(seconds: seconds, bounds: bounds)
        }

        /// `record(_:bounds:)` for a duration of `nanoseconds` (not negative): the same seconds to the
        /// last bit, without `Duration.components`, whose 128-bit division was most of a sample's cost.
        mutating func record(nanoseconds: Int64, bounds: [Double]) -> Bool {
            let (whole, fraction) = nanoseconds.quotientAndRemainder(dividingBy: 1_000_000_000)
            return record(seconds: Double(whole) + Double(fraction &* 1_000_000_000) * 1e-18, bounds: bounds)
        }

        private mutating func record(seconds: Double, bounds: [Double]) -> Bool {
            if counts.isEmpty { counts = Array(repeating: 0, count: bounds.count + 1) }
            var bucket = 0
            while bucket < bounds.count && seconds > bounds[bucket] { bucket &+= 1 }
            counts[bucket] &+= 1
            sum += seconds
            samples &+= 1
            return samples >= Self.flushEvery
        }

        fileprivate mutating func clear() {
            for i in counts.indices { counts[i] = 0 }
            sum = 0
            samples = 0
        }
    }

    /// Counts one sample now, for a series sampled once or twice per exchange (time to first token,
    /// connect time): one short lock, and a bucket found by comparing plain numbers. Any thread.
    ///
    /// Why not the registry's histogram: its `record` compared the sample with every bound as a
    /// `Duration` and took about 600 instructions; a short request records three.
    func record(_ value: Duration) {
        let nanoseconds = max(0, value.nanosecondsClamped)
        let (whole, fraction) = nanoseconds.quotientAndRemainder(dividingBy: 1_000_000_000)
        let seconds = Double(whole) + Double(fraction &* 1_000_000_000) * 1e-18
        var bucket = 0
        while bucket < bounds.count && seconds > bounds[bucket] { bucket &+= 1 }
        state.withLock { state in
            state.counts[bucket] &+= 1
            state.sum += seconds
        }
    }

    /// Adds `batch` and empties it. Any thread.
    func add(_ batch: inout Batch) {
        guard batch.samples > 0 else { return }
        state.withLock { state in
            for (i, n) in batch.counts.enumerated() { state.counts[i] &+= UInt64(n) }
            state.sum += batch.sum
        }
        batch.clear()
    }

    /// Writes the series' `_bucket` (cumulative), `_sum` and `_count` lines with `labels` (already
    /// rendered as `name="value"` pairs), in the Prometheus text format. The family's `# HELP` and
    /// `# TYPE` lines are the caller's, once for all series.
    func emit(name: String, labels: String, into buffer: inout [UInt8]) {
        let (counts, sum) = state.withLock { ($0.counts, $0.sum) }
        var cumulative: UInt64 = 0
        for (i, count) in counts.enumerated() {
            cumulative &+= count
            let bound = i < bounds.count ? "\(bounds[i])" : "+Inf"
            buffer.append(contentsOf: "\(name)_bucket{\(labels),le=\"\(bound)\"} \(cumulative)\n".utf8)
        }
        buffer.append(contentsOf: "\(name)_sum{\(labels)} \(sum)\n".utf8)
        buffer.append(contentsOf: "\(name)_count{\(labels)} \(cumulative)\n".utf8)
    }
}
