import SluiceFilterAPI
import Synchronization

/// A shared `token_bucket` in batch mode (`shared: { batch: N }`): per client key, the `TokenSlice`
/// of the Redis bucket this instance took ahead and spends locally, so a request the slice can pay
/// for passes without a round trip. Takes that miss the slice go to Redis through
/// `SharedTokenBucket.sliceCall`, which also asks for the slice's refill; prefetches and give-backs
/// go in the background.
///
/// Each slice that holds tokens has a timer on the worker that last filled it, at its expiry: the
/// tokens it still holds then go back to the Redis bucket (a refund, capped at the capacity). An
/// orderly stop gives every slice back at once (`giveBackAll`); tokens held by a process that died
/// are not given back: the bucket is short of them until it refills (under-admission, at most N per
/// instance and bucket).
///
/// Threads: one object serves every worker (and a reload's successor with the same bucket); the
/// slices sit behind one `Mutex`. Every call that names a worker runs on that worker's loop thread.
final class SharedTokenSlices: Sendable {
    let bucket: SharedTokenBucket
    let batch: SharedBatch
    private let clock: any SluiceClock
    private let slices = Mutex<[String: Entry]>([:])

    private struct Entry {
        var slice = TokenSlice()
        var timerArmed = false
        /// Whole tokens the Redis bucket had left at the last answer.
        var remote = 0
    }

    init(bucket: SharedTokenBucket, batch: SharedBatch, clock: any SluiceClock) {
        self.bucket = bucket
        self.batch = batch
        self.clock = clock
    }

    /// True when `client`'s slice holds `tokens` now (a later `take` may still miss them).
    func canTake(_ tokens: Int, client: String) -> Bool {
        let now = clock.now()
        return slices.withLock { $0[client]?.slice.canTake(tokens, now: now) ?? false }
    }

    /// Spends `tokens` from `client`'s slice without a round trip. Answers the whole tokens left
    /// (what the bucket had at the last answer plus what the slice holds), or nil when the slice
    /// does not hold them. May start a prefetch on `worker`.
    func take(_ tokens: Int, client: String, worker: Int) -> Int? {
        let now = clock.now()
        let (taken, prefetch) = slices.withLock { slices -> (Int?, Int?) in
            guard var entry = slices[client], entry.slice.take(tokens, now: now) else { return (nil, nil) }
            let prefetch = entry.slice.prefetch(batch: batch.size)
            slices[client] = entry
            return (entry.remote + entry.slice.held, prefetch)
        }
        if let prefetch {
            bucket.store.run(bucket.sliceCall(0, extra: prefetch, client: client), worker: worker) { [self] answer in
                received(answer, extra: prefetch, prefetch: true, taking: 0, client: client, worker: worker)
            }
        }
        return taken
    }

    /// A take of `tokens` that missed the slice: the extra it asks for along (recorded as asked;
    /// its answer must reach `received`).
    func extra(besides tokens: Int, client: String) -> Int {
        slices.withLock { slices in
            var entry = slices[client] ?? Entry()
            let extra = entry.slice.extra(batch: batch.size, besides: tokens)
            slices[client] = entry
            return extra
        }
    }

    /// Takes in the answer to a slice call that asked for `extra` beyond the `taking` tokens the
    /// request itself took (nil: the call was not made). The granted extra fills the slice, which
    /// ages out `hold` from now. Loop thread of `worker`.
    func received(_ answer: SharedStoreAnswer?, extra: Int, prefetch: Bool, taking: Int, client: String, worker: Int) {
        var granted = 0
        var remote: Int?
        if case .values(let v)? = answer, v.count == 5 {
            remote = Int(clamping: v[1])
            if v[0] == 1 { granted = max(0, Int(clamping: v[4]) - taking) }
        }
        let now = clock.now()
        let arm = slices.withLock { slices -> Bool in
            var entry = slices[client] ?? Entry()
            if let remote { entry.remote = remote }
            entry.slice.receive(granted, askedFor: extra, prefetch: prefetch, now: now, hold: batch.hold)
            let arm = !entry.timerArmed && entry.slice.held > 0
            if arm { entry.timerArmed = true }
            slices[client] = entry.slice.isIdle && !entry.timerArmed ? nil : entry
            return arm
        }
        if arm { schedule(client, after: batch.hold, worker: worker) }
    }

    /// `mode: tokens`: settles a reservation made against the slice or the bucket: `difference`
    /// tokens more than used go back (positive) or are charged (negative), against the slice as
    /// far as it can absorb them, the rest in Redis. Loop thread of `worker`.
    func settle(_ difference: Int, client: String, worker: Int) {
        guard difference != 0 else { return }
        let now = clock.now()
        let rest = slices.withLock { slices -> Int in
            guard var entry = slices[client] else { return difference }
            let rest = difference > 0
                ? entry.slice.refund(difference, batch: batch.size, now: now)
                : -entry.slice.charge(-difference, now: now)
            slices[client] = entry
            return rest
        }
        if rest != 0 { bucket.adjust(by: -rest, client: client, worker: worker) }
    }

    /// Gives every slice's tokens back to its bucket (the process stops); `done` runs once all were
    /// answered. Loop thread of `worker`.
    func giveBackAll(worker: Int, _ done: @escaping () -> Void) {
        let back = slices.withLock { slices -> [(String, Int)] in
            var back: [(String, Int)] = []
            for key in Array(slices.keys) {
                let tokens = slices[key]!.slice.surrender()
                if tokens > 0 { back.append((key, tokens)) }
            }
            return back
        }
        SharedReturns.all(back, done) { item, answered in
            bucket.adjust(by: -item.1, client: item.0, worker: worker, answered)
        }
    }

    /// Tokens this instance holds for `client`, for tests and diagnostics. Any thread.
    func held(_ client: String) -> Int {
        slices.withLock { $0[client]?.slice.held ?? 0 }
    }

    // MARK: - Ageing out

    private func schedule(_ client: String, after delay: Duration, worker: Int) {
        bucket.store.schedule(after: delay, worker: worker) { [self] in expire(client, worker: worker) }
    }

    /// Gives back what aged out; comes again at the new expiry when a later grant pushed it.
    private func expire(_ client: String, worker: Int) {
        let now = clock.now()
        let (back, again) = slices.withLock { slices -> (Int, Duration?) in
            guard var entry = slices[client] else { return (0, nil) }
            let back = entry.slice.ageOut(now: now)
            var again: Duration?
            if let expires = entry.slice.expires {
                again = max(.milliseconds(1), expires.since(now))
            }
            entry.timerArmed = again != nil
            slices[client] = entry.slice.isIdle && !entry.timerArmed ? nil : entry
            return (back, again)
        }
        if back > 0 { bucket.adjust(by: -back, client: client, worker: worker) }
        if let again { schedule(client, after: again, worker: worker) }
    }
}
