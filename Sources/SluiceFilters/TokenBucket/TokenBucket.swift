import SluiceFilterAPI

/// The token bucket: a level that refills at a steady rate up to a capacity, and that requests
/// draw from. Pure arithmetic on a value: no lock, no clock of its own. Every operation takes the
/// time as a `MonotonicInstant`, so tests drive it with a `ManualClock` and the caller (the
/// `token_bucket` filter, through `TokenBucketStore`) owns the locking.
///
/// Units: the level is kept in millionths of a token (`unitsPerToken`) and the refill carries
/// its sub-unit remainder from one update to the next, so refilling at a fractional rate (2.5 per
/// second) over any split of time adds up to exactly what one long interval would give. There is
/// no floating-point drift: after one second at 2.5 per second the bucket holds 2.5 tokens, not
/// 2.4999999.
///
/// The level may go below zero, down to `-capacity`: a charge larger than what was reserved (an
/// LLM that used more tokens than estimated) is a debt that refill pays back before anyone is
/// admitted again. It never goes above `capacity`.
///
/// The shape (capacity and rate) is not stored in each bucket: a store holds many buckets of one
/// shape, so every operation takes the `Settings`.
public struct TokenBucket: Sendable, Equatable {
    /// Levels are counted in millionths of a token.
    public static let unitsPerToken: Int64 = 1_000_000
    private static let nanosecondsPerSecond: UInt64 = 1_000_000_000

    /// The shape shared by the buckets of a store: how much a bucket holds and how fast it refills.
    public struct Settings: Sendable, Equatable {
        /// The most a bucket holds, in units (millionths of a token).
        public let capacity: Int64
        /// What a bucket regains per second, in units. Zero: buckets never refill.
        public let refillPerSecond: Int64

        /// `capacity` whole tokens (1 through 10¹²), refilling `refillPerSecond` tokens per second
        /// (0 through 10¹², rounded to a millionth).
        public init(capacity: Int, refillPerSecond: Double) {
            precondition(capacity >= 1 && capacity <= 1_000_000_000_000, "capacity out of range")
            precondition(refillPerSecond >= 0 && refillPerSecond <= 1e12, "refill rate out of range")
            self.capacity = Int64(capacity) * TokenBucket.unitsPerToken
            self.refillPerSecond = Int64((refillPerSecond * Double(TokenBucket.unitsPerToken)).rounded())
        }

        /// The capacity in whole tokens.
        public var capacityTokens: Int { Int(capacity / TokenBucket.unitsPerToken) }

        /// How long a bucket takes to refill from its lowest level (`-capacity`) to full; nil when
        /// it never refills.
        public var timeToRefillFromLowest: Duration? {
            guard refillPerSecond > 0 else { return nil }
            return TokenBucket.time(toGain: UInt64(capacity) * 2, carry: 0, rate: UInt64(refillPerSecond))
        }
    }

    /// The level at `updated`, in units: from `-capacity` to `capacity`.
    public private(set) var level: Int64
    /// Refill earned since `updated` that does not make a whole unit yet, in units × 10⁻⁹
    /// (always below 10⁹). Carrying it is what keeps fractional rates exact.
    private var carry: UInt64 = 0
    /// When `level` was last brought up to date. Also the bucket's last use, which is how a store
    /// tells idle buckets.
    public private(set) var updated: MonotonicInstant

    /// A full bucket.
    public init(full settings: Settings, at now: MonotonicInstant) {
        level = settings.capacity
        updated = now
    }

    /// A bucket at `tokens` (clamped to `-capacity...capacity`), for tests and for carrying levels over.
    public init(tokens: Double, settings: Settings, at now: MonotonicInstant) {
        let units = (tokens * Double(Self.unitsPerToken)).rounded()
        let bound = Double(settings.capacity)
        level = Int64(min(max(units, -bound), bound))
        updated = now
    }

    /// The level in tokens (fractional), as of the last update.
    public var tokens: Double { Double(level) / Double(Self.unitsPerToken) }

    /// The whole tokens available (never negative), as of the last update: what `RateLimit-Remaining` says.
    public var wholeTokens: Int { level > 0 ? Int(level / Self.unitsPerToken) : 0 }

    /// Adds what the rate earned between `updated` and `now` (nothing when `now` is earlier), and
    /// moves `updated` to `now`.
    public mutating func refill(_ settings: Settings, to now: MonotonicInstant) {
        defer { if now > updated { updated = now } }
        guard level < settings.capacity else {
            level = settings.capacity
            carry = 0
            return
        }
        guard settings.refillPerSecond > 0, now > updated else { return }
        let elapsed = now.nanoseconds - updated.nanoseconds
        // units × 10⁻⁹ earned = elapsed ns × units per second, plus the carry; in 128 bits.
        var (high, low) = elapsed.multipliedFullWidth(by: UInt64(settings.refillPerSecond))
        let (sum, overflow) = low.addingReportingOverflow(carry)
        low = sum
        if overflow { high &+= 1 }
        let missing = UInt64(settings.capacity - level)
        // A quotient that does not fit in 64 bits is more than any bucket can miss.
        guard high < Self.nanosecondsPerSecond else {
            fill(settings)
            return
        }
        let (earned, remainder) = Self.nanosecondsPerSecond.dividingFullWidth((high, low))
        if earned >= missing {
            fill(settings)
        } else {
            level += Int64(earned)
            carry = remainder
        }
    }

    /// Takes `tokens` if the bucket holds at least that many at `now`; otherwise takes nothing.
    /// Answers whether it took them. The check and the take are one step: under the store's lock,
    /// two callers can never both take the last tokens.
    public mutating func take(_ tokens: Int, _ settings: Settings, now: MonotonicInstant) -> Bool {
        refill(settings, to: now)
        let units = Self.units(tokens)
        guard level >= units else { return false }
        level -= units
        return true
    }

    /// Changes the level by `tokens` at `now`: positive gives tokens back (a refund, never above
    /// capacity), negative charges them (never below `-capacity`).
    public mutating func adjust(by tokens: Int, _ settings: Settings, now: MonotonicInstant) {
        refill(settings, to: now)
        let (sum, overflow) = level.addingReportingOverflow(Self.units(tokens))
        let target = overflow ? (tokens > 0 ? Int64.max : Int64.min) : sum
        level = min(max(target, -settings.capacity), settings.capacity)
        if level == settings.capacity { carry = 0 }
    }

    /// How long from `updated` until the bucket holds `tokens`: zero when it already does, nil
    /// when it never will (no refill, or more than the capacity). Call `refill` first to ask "from now".
    public func time(untilAvailable tokens: Int, _ settings: Settings) -> Duration? {
        let target = Self.units(tokens)
        guard target <= settings.capacity else { return nil }
        guard level < target else { return .zero }
        guard settings.refillPerSecond > 0 else { return nil }
        return Self.time(toGain: UInt64(target - level), carry: carry, rate: UInt64(settings.refillPerSecond))
    }

    /// How long from `updated` until the bucket is full: zero when it is, nil when it never refills.
    public func timeUntilFull(_ settings: Settings) -> Duration? {
        guard level < settings.capacity else { return .zero }
        guard settings.refillPerSecond > 0 else { return nil }
        return Self.time(toGain: UInt64(settings.capacity - level), carry: carry, rate: UInt64(settings.refillPerSecond))
    }

    /// The bucket under new settings, as full (or as far in debt) in proportion as it was: a bucket
    /// three quarters full stays three quarters full when the capacity doubles. Brought up to
    /// date at `now` under the old settings first.
    public func rescaled(from old: Settings, to new: Settings, at now: MonotonicInstant) -> TokenBucket {
        var copy = self
        copy.refill(old, to: now)
        guard old.capacity != new.capacity else { return copy }
        let magnitude = copy.level.magnitude
        let (high, low) = magnitude.multipliedFullWidth(by: UInt64(new.capacity))
        // |level| ≤ old capacity, so the quotient is at most the new capacity and fits.
        let (scaled, _) = UInt64(old.capacity).dividingFullWidth((high, low))
        copy.level = copy.level < 0 ? -Int64(scaled) : Int64(scaled)
        copy.carry = 0
        return copy
    }

    /// Whole seconds, rounded up, for `Retry-After` and `RateLimit-Reset`.
    public static func wholeSeconds(roundingUp duration: Duration) -> Int {
        let ns = duration.nanosecondsClamped
        guard ns > 0 else { return 0 }
        return Int((ns - 1) / 1_000_000_000 + 1)
    }

    private mutating func fill(_ settings: Settings) {
        level = settings.capacity
        carry = 0
    }

    private static func units(_ tokens: Int) -> Int64 {
        let (product, overflow) = Int64(tokens).multipliedReportingOverflow(by: unitsPerToken)
        return overflow ? (tokens > 0 ? .max : .min) : product
    }

    /// The time to earn `units` at `rate` units per second with `carry` (units × 10⁻⁹) already
    /// earned, rounded up to the nanosecond.
    private static func time(toGain units: UInt64, carry: UInt64, rate: UInt64) -> Duration {
        // ns = ceil((units × 10⁹ − carry) / rate), in 128 bits.
        var (high, low) = units.multipliedFullWidth(by: nanosecondsPerSecond)
        let (difference, borrow) = low.subtractingReportingOverflow(carry)
        low = difference
        if borrow { high &-= 1 }
        guard high < rate else { return .nanoseconds(Int64.max) }
        let (quotient, remainder) = rate.dividingFullWidth((high, low))
        let ns = quotient + (remainder > 0 ? 1 : 0)
        return .nanoseconds(Int64(min(ns, UInt64(Int64.max))))
    }
}
