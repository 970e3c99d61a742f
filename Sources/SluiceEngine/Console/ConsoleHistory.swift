/// The console's memory: a reading every `interval` for the last `span` (15 minutes by default),
/// from which it draws each route's time series and each breaker's history, and against which the
/// current figures are taken as rates. Pure: every call takes the time, in seconds since the engine
/// started. Kept on the control loop.
struct ConsoleHistory {
    /// What is kept of one reading: the routes' counts and the breakers' states (not every filter
    /// series, so 15 minutes of points stay small).
    struct Point {
        var time: Double
        var routes: [String: ConsoleReading.Route]
        var breakers: [String: Double]
    }

    let interval: Double
    let capacity: Int
    private(set) var points: [Point] = []

    init(interval: Double = 10, span: Double = 15 * 60) {
        self.interval = interval
        capacity = Int((span / interval).rounded(.up)) + 1
    }

    /// True when a reading is due at `time`.
    func isDue(at time: Double) -> Bool {
        guard let last = points.last else { return true }
        return time - last.time >= interval * 0.99
    }

    mutating func record(_ reading: ConsoleReading, at time: Double) {
        points.append(Point(time: time, routes: reading.routes, breakers: reading.breakerStates))
        if points.count > capacity { points.removeFirst(points.count - capacity) }
    }

    /// The reading to take rates against at `time`: the oldest one within `window` seconds before
    /// it (but not at `time` itself), or nil when none is, and rates then run from the start.
    func baseline(at time: Double, window: Double) -> Point? {
        points.first { $0.time >= time - window && $0.time < time - 0.05 }
    }

    /// `route`'s series, one entry per interval between readings: end time, requests per second,
    /// time to first token p95 in milliseconds (nil with no first token), completion tokens per second.
    func series(of route: String) -> [(time: Double, requestsPerSecond: Double, ttftP95: Double?, tokensPerSecond: Double)] {
        guard points.count >= 2 else { return [] }
        return (1..<points.count).map { i in
            let a = points[i - 1], b = points[i]
            let seconds = max(b.time - a.time, 0.001)
            let now = b.routes[route] ?? ConsoleReading.Route()
            let then = a.routes[route] ?? ConsoleReading.Route()
            return (b.time, max(0, now.requests - then.requests) / seconds,
                    now.timeToFirstToken.since(then.timeToFirstToken).quantile(0.95).map { $0 * 1000 },
                    max(0, now.completionTokens - then.completionTokens) / seconds)
        }
    }

    /// One breaker's state at each reading (nil where it was not known yet), oldest first.
    func breakerHistory(_ key: String) -> [Double?] {
        points.map { $0.breakers[key] }
    }
}
