#if canImport(Glibc)
import Glibc
#endif

/// A route's recent first-token times, for `hedge`'s `after: p95`: counts in buckets that grow by a
/// quarter each (1ms, 1.25ms, … about 90s), so a quantile is read within a quarter of its value
/// without keeping samples. Old samples fade: when `window` samples have been counted, every
/// bucket is halved, so the figures follow the last few windows' traffic.
///
/// Pure: no lock, no clock. `HedgeFilter` keeps one per route behind a `Mutex`.
public struct FirstTokenQuantiles: Sendable, Equatable {
    static let growth = 1.25
    static let bucketCount = 52

    /// Samples counted since the last halving, and the halved remainder.
    public private(set) var total = 0
    private var counts = [Int](repeating: 0, count: bucketCount)
    /// Samples after which every bucket is halved.
    public let window: Int

    public init(window: Int = 2000) {
        self.window = max(window, 2)
    }

    /// The bucket's upper bound.
    static func upperBound(_ index: Int) -> Duration {
        .nanoseconds(Int64(1e6 * pow(growth, Double(index))))
    }

    static func index(of duration: Duration) -> Int {
        let milliseconds = Double(duration.components.seconds) * 1e3 + Double(duration.components.attoseconds) / 1e15
        guard milliseconds > 1 else { return 0 }
        return min(bucketCount - 1, Int((log(milliseconds) / log(growth)).rounded(.up)))
    }

    public mutating func record(_ duration: Duration) {
        counts[Self.index(of: duration)] += 1
        total += 1
        if total >= window {
            for i in counts.indices { counts[i] /= 2 }
            total = counts.reduce(0, +)
        }
    }

    /// The upper bound of the bucket holding the `q` quantile (0…1); nil with no sample.
    public func quantile(_ q: Double) -> Duration? {
        guard total > 0 else { return nil }
        let wanted = max(1, Int((q * Double(total)).rounded(.up)))
        var seen = 0
        for (i, n) in counts.enumerated() {
            seen += n
            if seen >= wanted { return Self.upperBound(i) }
        }
        return Self.upperBound(Self.bucketCount - 1)
    }

    /// How much longer than `waited` a first token takes, on average, among the recorded ones that
    /// took longer than `waited` (each bucket counted at its middle); nil when none did. The
    /// first-token time a hedge saved is estimated so: the attempt it beat had produced nothing
    /// after `waited`, and was cancelled before it could say how much longer it would have taken.
    public func expectedExcess(over waited: Duration) -> Duration? {
        var weighted = 0.0
        var n = 0
        let waitedNs = Double(waited.components.seconds) * 1e9 + Double(waited.components.attoseconds) / 1e9
        for (i, count) in counts.enumerated() where count > 0 {
            let upper = Double(Self.upperBound(i).components.seconds) * 1e9 + Double(Self.upperBound(i).components.attoseconds) / 1e9
            let lower = i == 0 ? 0 : upper / Self.growth
            let middle = (upper + lower) / 2
            guard middle > waitedNs else { continue }
            weighted += Double(count) * (middle - waitedNs)
            n += count
        }
        guard n > 0 else { return nil }
        return .nanoseconds(Int64(weighted / Double(n)))
    }
}
