import SluiceFilterAPI

/// How long `hedge` waits for the first content before it starts a hedge: a fixed time, or the
/// route's own measured first-token p95 (`FirstTokenQuantiles`) kept between a floor and a ceiling.
public enum HedgeDelay: Sendable, Equatable {
    case fixed(Duration)
    /// The route's p95, at least `floor` and at most `ceiling`; the ceiling until `minimumSamples`
    /// first tokens were measured.
    case p95(floor: Duration, ceiling: Duration)

    /// First tokens a route must have measured before its p95 is used.
    public static let minimumSamples = 20

    /// The wait for a route whose first-token times are `measured`.
    public func delay(_ measured: FirstTokenQuantiles?) -> Duration {
        switch self {
        case .fixed(let duration):
            return duration
        case .p95(let floor, let ceiling):
            guard let measured, measured.total >= Self.minimumSamples, let p95 = measured.quantile(0.95) else { return ceiling }
            return min(max(p95, floor), ceiling)
        }
    }

    /// Reads `after` (a duration or `p95`) with `after_min` and `after_max` from a hedge filter's config.
    static func read(_ config: ConfigMap) -> HedgeDelay {
        let range = Duration.milliseconds(1)...Duration.seconds(600)
        let floor = config.duration("after_min", default: .milliseconds(50), in: range)
        let ceiling = config.duration("after_max", default: .seconds(2), in: range)
        if ceiling < floor {
            config.error("after_max must not be shorter than after_min (\(ConfigParse.durationText(floor)))", atValueOf: "after_max")
        }
        let text = config.string("after", default: "p95")
        if text == "p95" { return .p95(floor: floor, ceiling: max(floor, ceiling)) }
        if config.has("after_min") || config.has("after_max") {
            config.error("after_min and after_max apply only with after: p95", atValueOf: config.has("after_min") ? "after_min" : "after_max")
        }
        guard let duration = ConfigParse.duration(text) else {
            config.error("'after' must be a duration such as 300ms or 1.5s, or p95, got \(text)", atValueOf: "after")
            return .p95(floor: floor, ceiling: max(floor, ceiling))
        }
        guard range.contains(duration) else {
            config.error("'after' must be from 1ms to 10m, got \(text)", atValueOf: "after")
            return .fixed(min(max(duration, range.lowerBound), range.upperBound))
        }
        return .fixed(duration)
    }
}
