/// Keeps retries a small share of the traffic, so that an outage does not turn into a retry storm
/// that multiplies the load on upstreams already in trouble.
///
/// Counts the requests in flight (`active`, from `requestStarted` to `requestEnded`) and, among them,
/// those that are retrying (`retrying`: from their first granted retry to their end; a request holds
/// one place however many times it retries, since it has one attempt in flight at a time). A retry
/// is granted while `retrying` is below the allowance, `max(minimum, ⌊ratio × active⌋)`.
///
/// Pure bookkeeping: no lock, no clock. `RetryFilter` keeps one behind a `Mutex`, shared by every
/// worker and handed on across reloads. The limits come with each call because two chain versions
/// may count into one budget while a reload finishes.
public struct RetryBudget: Sendable, Equatable {
    public struct Limits: Sendable, Equatable {
        /// Share of the requests in flight that may be retrying, 0…1.
        public var ratio: Double
        /// Retrying requests always allowed, whatever the share (so a quiet proxy can still retry).
        public var minimum: Int

        public init(ratio: Double, minimum: Int) {
            self.ratio = ratio
            self.minimum = minimum
        }
    }

    /// Requests in flight.
    public private(set) var active = 0
    /// Requests in flight that hold a retry place.
    public private(set) var retrying = 0

    public init() {}

    /// How many requests may be retrying at once now.
    public func allowance(_ limits: Limits) -> Int {
        let share = (limits.ratio * Double(active)).rounded(.down)
        return max(limits.minimum, share.isFinite ? Int(share) : 0)
    }

    public mutating func requestStarted() {
        active += 1
    }

    /// Takes a retry place for a request in flight, or answers false (taking nothing) when the
    /// allowance is used up. A request calls it once, at its first retry.
    public mutating func acquireRetry(within limits: Limits) -> Bool {
        guard retrying < allowance(limits) else { return false }
        retrying += 1
        return true
    }

    /// A request ended; `heldRetry` when it had acquired a retry place. Counts never go below zero.
    public mutating func requestEnded(heldRetry: Bool) {
        active = max(0, active - 1)
        if heldRetry { retrying = max(0, retrying - 1) }
    }
}
