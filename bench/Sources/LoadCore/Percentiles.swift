/// Order statistics over recorded samples (microseconds), for the report.
public struct Summary: Sendable, Equatable {
    public var count: Int
    public var p50: Double
    public var p90: Double
    public var p99: Double
    public var max: Double
    public var mean: Double

    public static let empty = Summary(count: 0, p50: 0, p90: 0, p99: 0, max: 0, mean: 0)

    /// Nearest-rank percentiles of `samples` (which it sorts).
    public init(_ samples: inout [Double]) {
        guard !samples.isEmpty else { self = .empty; return }
        samples.sort()
        func rank(_ p: Double) -> Double {
            let r = Int((p / 100 * Double(samples.count)).rounded(.up))
            return samples[Swift.max(0, Swift.min(samples.count - 1, r - 1))]
        }
        count = samples.count
        p50 = rank(50)
        p90 = rank(90)
        p99 = rank(99)
        max = samples[samples.count - 1]
        mean = samples.reduce(0, +) / Double(samples.count)
    }

    public init(count: Int, p50: Double, p90: Double, p99: Double, max: Double, mean: Double) {
        self.count = count; self.p50 = p50; self.p90 = p90; self.p99 = p99; self.max = max; self.mean = mean
    }

    /// `{"count":…,"p50":…}` with values in milliseconds.
    public var json: String {
        func ms(_ us: Double) -> String { String(Double(Int((us / 1000 * 1000).rounded())) / 1000) }
        return "{\"count\":\(count),\"p50_ms\":\(ms(p50)),\"p90_ms\":\(ms(p90)),\"p99_ms\":\(ms(p99)),\"max_ms\":\(ms(max)),\"mean_ms\":\(ms(mean))}"
    }
}
