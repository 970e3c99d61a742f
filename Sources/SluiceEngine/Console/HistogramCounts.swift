/// The cumulative bucket counts of one Prometheus histogram series at one moment, so that two
/// moments can be subtracted and a quantile estimated over what happened in between. Pure.
struct HistogramCounts: Sendable, Equatable {
    /// Upper bounds, ascending; the last is `+Inf`.
    var bounds: [Double] = []
    /// Observations at or below each bound.
    var cumulative: [Double] = []
    var sum: Double = 0
    var count: Double = 0

    /// Adds one `_bucket` sample; buckets may arrive in any order.
    mutating func addBucket(le: Double, count: Double) {
        let i = bounds.firstIndex { $0 >= le } ?? bounds.count
        if i < bounds.count, bounds[i] == le {
            cumulative[i] += count
        } else {
            bounds.insert(le, at: i)
            cumulative.insert(count, at: i)
        }
    }

    /// What was observed after `earlier` (the same series at an earlier moment). When the bucket
    /// layouts differ (`earlier` is empty, the series was new), everything counts.
    func since(_ earlier: HistogramCounts) -> HistogramCounts {
        guard earlier.bounds == bounds else { return self }
        var d = self
        for i in cumulative.indices { d.cumulative[i] = max(0, cumulative[i] - earlier.cumulative[i]) }
        d.sum = max(0, sum - earlier.sum)
        d.count = max(0, count - earlier.count)
        return d
    }

    /// The mean observation, or nil with none.
    var mean: Double? { count > 0 ? sum / count : nil }

    /// The `q` quantile (0...1), interpolated linearly within its bucket as Prometheus'
    /// `histogram_quantile` does; the last finite bound when it falls in `+Inf`. Nil with no observation.
    func quantile(_ q: Double) -> Double? {
        guard let total = cumulative.last, total > 0 else { return nil }
        let rank = q * total
        var below = 0.0
        for (i, upTo) in cumulative.enumerated() {
            if upTo >= rank, upTo > below {
                let lower = i == 0 ? 0 : bounds[i - 1]
                let upper = bounds[i]
                if upper.isInfinite { return lower }
                return lower + (upper - lower) * (rank - below) / (upTo - below)
            }
            below = upTo
        }
        return bounds.count > 1 ? bounds[bounds.count - 2] : nil
    }
}
