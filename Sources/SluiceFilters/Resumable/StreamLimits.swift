/// What a resumable-stream store may keep: how long, and how much per stream and in all.
public struct StreamLimits: Sendable, Equatable {
    /// How long a stream is kept once it ended, or once nobody reads it; also how long a detached
    /// upstream runs on with nobody reading.
    public var window: Duration
    /// The most one stream keeps: while its client reads, its newest events up to this; once its
    /// client left, the stream's budget (the upstream is cancelled past it).
    public var maxBytes: Int
    /// The most all streams keep together.
    public var maxTotalBytes: Int

    public init(window: Duration, maxBytes: Int, maxTotalBytes: Int) {
        self.window = window
        self.maxBytes = maxBytes
        self.maxTotalBytes = maxTotalBytes
    }
}
