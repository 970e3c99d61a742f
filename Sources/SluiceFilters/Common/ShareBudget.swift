/// Keeps extra upstream work (retries, hedges) a small share of the traffic, so that an outage does
/// not turn into a storm of it that multiplies the load on upstreams already in trouble.
///
/// Counts the requests in flight (`active`, from `requestStarted` to `requestEnded`) and the places
/// they hold for extra work (`held`, from `acquire` to `release`). A place is granted while `held` is
/// below the allowance, `max(minimum, ⌊ratio × active⌋)`. What a place stands for is the filter's:
/// `retry` takes one per retrying request (a request has one attempt in flight at a time), `hedge`
/// one per hedge in flight.
///
/// Pure bookkeeping: no lock, no clock. Each filter keeps one behind a `Mutex`, shared by every
/// worker and handed on across reloads. The limits come with each call because two chain versions
/// may count into one budget while a reload finishes.
public struct ShareBudget: Sendable, Equatable {
    public struct Limits: Sendable, Equatable {
        /// Share of the requests in flight that may hold a place, 0…1.
        public var ratio: Double
        /// Places always allowed, whatever the share (so a quiet proxy can still retry or hedge).
        public var minimum: Int

        public init(ratio: Double, minimum: Int) {
            self.ratio = ratio
            self.minimum = minimum
        }
    }

    /// Requests in flight.
    public private(set) var active = 0
    /// Places held.
    public private(set) var held = 0

    public init() {}

    /// How many places may be held at once now.
    public func allowance(_ limits: Limits) -> Int {
        let share = (limits.ratio * Double(active)).rounded(.down)
        return max(limits.minimum, share.isFinite ? Int(share) : 0)
    }

    public mutating func requestStarted() {
        active += 1
    }

    /// Takes a place, or answers false (taking nothing) when the allowance is used up.
    public mutating func acquire(within limits: Limits) -> Bool {
        guard held < allowance(limits) else { return false }
        held += 1
        return true
    }

    /// Gives back `count` places. Never below zero.
    public mutating func release(_ count: Int = 1) {
        held = max(0, held - count)
    }

    /// A request ended (its places are given back with `release`). Never below zero.
    public mutating func requestEnded() {
        active = max(0, active - 1)
    }
}
