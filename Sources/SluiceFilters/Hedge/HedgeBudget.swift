/// Keeps hedges a small share of the traffic, so that hedging never doubles the load on upstreams
/// that are slow because they are in trouble.
///
/// Counts the requests in flight that may hedge (`active`, from `requestStarted` to `requestEnded`)
/// and the hedges in flight among them (`hedging`: from `acquire` to `release`; a request with two
/// hedges racing holds two places). A hedge is granted while `hedging` is below the allowance,
/// `max(minimum, ⌊ratio × active⌋)`.
///
/// Pure bookkeeping: no lock, no clock. `HedgeFilter` keeps one behind a `Mutex`, shared by every
/// worker and handed on across reloads. The limits come with each call because two chain versions
/// may count into one budget while a reload finishes.
public struct HedgeBudget: Sendable, Equatable {
    public struct Limits: Sendable, Equatable {
        /// Share of the requests in flight that may have a hedge in flight, 0…1.
        public var ratio: Double
        /// Hedges always allowed in flight, whatever the share (so a quiet proxy can still hedge).
        public var minimum: Int

        public init(ratio: Double, minimum: Int) {
            self.ratio = ratio
            self.minimum = minimum
        }
    }

    /// Requests in flight that may hedge.
    public private(set) var active = 0
    /// Hedges in flight.
    public private(set) var hedging = 0

    public init() {}

    /// How many hedges may be in flight at once now.
    public func allowance(_ limits: Limits) -> Int {
        let share = (limits.ratio * Double(active)).rounded(.down)
        return max(limits.minimum, share.isFinite ? Int(share) : 0)
    }

    public mutating func requestStarted() {
        active += 1
    }

    /// Takes a place for one hedge, or answers false (taking nothing) when the allowance is used up.
    public mutating func acquire(within limits: Limits) -> Bool {
        guard hedging < allowance(limits) else { return false }
        hedging += 1
        return true
    }

    /// Gives back `count` places: hedges that ended, or that never started. Never below zero.
    public mutating func release(_ count: Int = 1) {
        hedging = max(0, hedging - count)
    }

    /// A request ended. Counts never go below zero.
    public mutating func requestEnded() {
        active = max(0, active - 1)
    }
}
