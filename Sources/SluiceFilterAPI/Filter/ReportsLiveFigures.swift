/// A filter that shows figures of its own state on the admin console (`GET /` and `/admin/events`),
/// beside its metrics: the levels of its buckets, say, which no counter or gauge holds.
///
/// `liveFigures()` runs on the admin listener's control thread, about twice a second while a console
/// follows, never on a worker's loop: it must be safe against the filter's hooks running at the same
/// time, and cheap (bounded work, a short lock), since a lock it holds delays the exchanges that need it.
public protocol ReportsLiveFigures: AnyObject {
    /// The figures, in the order to show them: a name (`buckets_near_empty`) and a value.
    func liveFigures() -> [LiveFigure]
}

/// One figure a filter shows on the console.
public struct LiveFigure: Sendable, Equatable {
    /// Lowercase words joined by `_`, as metric names are.
    public var name: String
    public var value: Double

    public init(_ name: String, _ value: Double) {
        self.name = name
        self.value = value
    }
}
