import SluiceFilterAPI

/// The tokens of one shared bucket that this instance took from Redis ahead and spends locally
/// (`token_bucket` with `shared: { batch: N }`, see `SharedBatch`). Pure: no clock, no lock, no I/O;
/// every call takes the time. `SharedTokenSlices` keeps one per client key behind a lock.
///
/// The rules, with `batch` = N:
/// - a request spends from the slice when it holds enough (`take`); otherwise it waits for a take
///   script that also asks for `extra(batch:besides:)` more, so the slice and the take hold at most
///   N together;
/// - when a quarter of N or less is left, `prefetch(batch:)` asks for the rest ahead, so requests
///   rarely find the slice empty; one prefetch at a time;
/// - unspent tokens age out `hold` after the last grant (`ageOut`) and go back to the bucket;
/// - in `mode: tokens` a settlement refunds into the slice (up to N, while it is live) and charges
///   from it, so settling costs no round trip when the slice can absorb it.
///
/// Invariant: every token `take` hands out was received from the shared bucket (`receive`) or
/// refunded by a settlement of tokens that were; `held + asked ≤ N` except for what one request
/// needs beyond N. So instances never spend more than the bucket gave (overshoot zero), and each
/// keeps at most N unspent (stranding at most instances × N).
struct TokenSlice: Sendable, Equatable {
    /// Whole tokens held and not spent.
    private(set) var held = 0
    /// Extra tokens asked for and not answered yet (prefetches and the extras of takes).
    private(set) var asked = 0
    /// A prefetch is on its way.
    private(set) var prefetching = false
    /// When the held tokens age out; nil while nothing is held.
    private(set) var expires: MonotonicInstant?

    /// True when `take(tokens, now:)` would succeed.
    func canTake(_ tokens: Int, now: MonotonicInstant) -> Bool {
        held >= tokens && isLive(now)
    }

    /// Spends `tokens` from the slice when it holds them and has not aged out; otherwise spends
    /// nothing and answers false.
    mutating func take(_ tokens: Int, now: MonotonicInstant) -> Bool {
        guard canTake(tokens, now: now) else { return false }
        held -= tokens
        return true
    }

    /// What a take of `want` tokens that misses the slice asks for beyond them: what brings the
    /// slice and the take together to N, so that what the take gives back later (`refund`) fits.
    /// Recorded as asked until `receive`.
    mutating func extra(batch: Int, besides want: Int = 0) -> Int {
        let extra = max(0, batch - held - asked - max(0, want))
        asked += extra
        return extra
    }

    /// The prefetch to ask for now, recorded as asked, or nil: only when a quarter of N or less is
    /// left and no other prefetch is on its way.
    mutating func prefetch(batch: Int) -> Int? {
        guard !prefetching, held * 4 <= batch else { return nil }
        let extra = max(0, batch - held - asked)
        guard extra > 0 else { return nil }
        asked += extra
        prefetching = true
        return extra
    }

    /// The answer to a take or prefetch that asked for `askedFor` extra tokens: `granted` of them
    /// arrived (0 when refused or failed). Granted tokens are held until `hold` from `now`.
    mutating func receive(_ granted: Int, askedFor: Int, prefetch: Bool, now: MonotonicInstant, hold: Duration) {
        asked = max(0, asked - askedFor)
        if prefetch { prefetching = false }
        guard granted > 0 else { return }
        if !isLive(now) { held = 0 }
        held += granted
        expires = now + hold
    }

    /// Takes the held tokens out when they aged out at `now`: what goes back to the bucket (0 when
    /// nothing aged out).
    mutating func ageOut(now: MonotonicInstant) -> Int {
        guard let expires, now >= expires else { return 0 }
        let back = held
        held = 0
        self.expires = nil
        return back
    }

    /// A settlement refunds `tokens` (`mode: tokens`): into the slice while it is live, up to N held;
    /// answers what is left to refund in Redis.
    mutating func refund(_ tokens: Int, batch: Int, now: MonotonicInstant) -> Int {
        guard tokens > 0, isLive(now) else { return max(0, tokens) }
        let kept = min(tokens, max(0, batch - held))
        held += kept
        return tokens - kept
    }

    /// A settlement charges `tokens` more than was reserved: from the slice as far as it holds them
    /// (while live); answers what is left to charge in Redis.
    mutating func charge(_ tokens: Int, now: MonotonicInstant) -> Int {
        guard tokens > 0, isLive(now) else { return max(0, tokens) }
        let taken = min(tokens, held)
        held -= taken
        return tokens - taken
    }

    /// Takes out everything held, whether aged out or not: what goes back when the process stops.
    mutating func surrender() -> Int {
        let back = held
        held = 0
        expires = nil
        return back
    }

    /// True when nothing is held, asked or on its way: the slice can be forgotten.
    var isIdle: Bool { held == 0 && asked == 0 && !prefetching }

    private func isLive(_ now: MonotonicInstant) -> Bool {
        guard let expires else { return false }
        return now < expires
    }
}
