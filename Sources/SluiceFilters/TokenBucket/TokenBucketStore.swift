import SluiceFilterAPI

/// Many `TokenBucket`s of one shape, by key (a client IP, a hashed API key, a route), with bounded
/// memory: at most `maxBuckets` of them, dropping the least recently used one to make room, and
/// dropping buckets nobody has used for `idleAfter`.
///
/// Every operation is O(1): a dictionary from key to slot, and the slots in arrays that also form
/// a doubly linked list in order of use (most recent at the head, least recent at the tail), so
/// both the LRU victim and the idle candidates are found at the tail without searching. Freed slots
/// are reused, so the arrays never grow past `maxBuckets`.
///
/// A value without a lock: the `token_bucket` filter keeps one behind a `Mutex` (`SharedTokenBuckets`)
/// and does each check-and-take inside one `withLock`.
package struct TokenBucketStore: Sendable {
    /// What a store is set up with.
    package struct Configuration: Sendable, Equatable {
        /// The shape of every bucket.
        package var settings: TokenBucket.Settings
        /// The most buckets kept at once (1 through `Int32.max`).
        package var maxBuckets: Int
        /// A bucket unused this long is dropped (at the next operation on the store).
        package var idleAfter: Duration

        package init(settings: TokenBucket.Settings, maxBuckets: Int, idleAfter: Duration) {
            precondition(maxBuckets >= 1 && maxBuckets <= Int(Int32.max), "maxBuckets out of range")
            self.settings = settings
            self.maxBuckets = maxBuckets
            self.idleAfter = idleAfter
        }
    }

    package private(set) var configuration: Configuration
    package var settings: TokenBucket.Settings { configuration.settings }
    /// Which configuration the buckets are in: a filter rebuilt by a reload carries a higher one
    /// and reconfigures the store it adopted on its first use (see `TokenBucketFilter`).
    package var generation = 0

    private static let none: Int32 = -1
    /// Idle buckets dropped per operation at most, so one request never pays for a long backlog.
    private static let idleEvictionsPerOperation = 64

    private var slotOfKey: [String: Int32] = [:]
    private var keys: [String] = []
    private var buckets: [TokenBucket] = []
    /// Toward the head (more recently used); `none` at the head.
    private var previous: [Int32] = []
    /// Toward the tail (less recently used); `none` at the tail.
    private var next: [Int32] = []
    private var head: Int32 = TokenBucketStore.none
    private var tail: Int32 = TokenBucketStore.none
    private var freeSlots: [Int32] = []

    package init(_ configuration: Configuration) {
        self.configuration = configuration
    }

    /// How many buckets are held.
    package var count: Int { slotOfKey.count }

    /// Runs `body` on the bucket of `key`, made full if there is none, refilled to `now`, and marks
    /// it most recently used. Drops idle buckets first, and the least recently used one when a new
    /// bucket needs room.
    package mutating func withBucket<Result>(
        _ key: String, now: MonotonicInstant, _ body: (inout TokenBucket, TokenBucket.Settings) -> Result
    ) -> Result {
        evictIdle(now: now)
        let slot: Int32
        if let existing = slotOfKey[key] {
            slot = existing
            moveToHead(slot)
        } else {
            if slotOfKey.count >= configuration.maxBuckets { remove(tail) }
            slot = insert(key, TokenBucket(full: settings, at: now))
        }
        // Refilling stamps the bucket with `now`, which keeps the list in order of `updated`: the
        // idle scan at the tail relies on it.
        buckets[Int(slot)].refill(settings, to: now)
        return body(&buckets[Int(slot)], settings)
    }

    /// Like `withBucket`, but only when `key` has a bucket: nil (and nothing made) otherwise.
    package mutating func withExistingBucket<Result>(
        _ key: String, now: MonotonicInstant, _ body: (inout TokenBucket, TokenBucket.Settings) -> Result
    ) -> Result? {
        evictIdle(now: now)
        guard let slot = slotOfKey[key] else { return nil }
        moveToHead(slot)
        buckets[Int(slot)].refill(settings, to: now)
        return body(&buckets[Int(slot)], settings)
    }

    /// How full the `limit` most recently used buckets are at `now` (they are the ones in use; a
    /// bounded walk keeps the caller's lock short): how many were looked at, the lowest level as a
    /// share of capacity (nil with no bucket), and how many hold less than `nearEmpty` of it.
    /// Marks nothing used.
    package func fill(now: MonotonicInstant, limit: Int, nearEmpty: Double) -> (looked: Int, lowest: Double?, nearEmpty: Int) {
        let capacity = Double(settings.capacityTokens)
        var slot = head, looked = 0, low = 0
        var lowest: Double?
        while slot != Self.none, looked < limit {
            var bucket = buckets[Int(slot)]
            bucket.refill(settings, to: now)
            let share = capacity > 0 ? bucket.tokens / capacity : 0
            lowest = min(lowest ?? share, share)
            if share < nearEmpty { low += 1 }
            looked += 1
            slot = next[Int(slot)]
        }
        return (looked, lowest, low)
    }

    /// The bucket of `key` as stored (not refilled, not marked used), if any.
    package func peek(_ key: String) -> TokenBucket? {
        slotOfKey[key].map { buckets[Int($0)] }
    }

    /// Changes the shape and the bounds. Every bucket keeps the fraction of its capacity it held
    /// (`TokenBucket.rescaled`); when `maxBuckets` shrank, the least recently used go.
    package mutating func reconfigure(_ new: Configuration, now: MonotonicInstant) {
        if new.settings != settings {
            for slot in slotOfKey.values {
                buckets[Int(slot)] = buckets[Int(slot)].rescaled(from: settings, to: new.settings, at: now)
            }
        }
        configuration = new
        while slotOfKey.count > new.maxBuckets { remove(tail) }
    }

    /// Drops buckets unused for `configuration.idleAfter` or longer, oldest first, at most
    /// `idleEvictionsPerOperation` of them.
    package mutating func evictIdle(now: MonotonicInstant) {
        var dropped = 0
        while tail != Self.none, dropped < Self.idleEvictionsPerOperation,
              now.since(buckets[Int(tail)].updated) >= configuration.idleAfter {
            remove(tail)
            dropped += 1
        }
    }

    // MARK: - The slots and their list

    private mutating func insert(_ key: String, _ bucket: TokenBucket) -> Int32 {
        let slot: Int32
        if let reused = freeSlots.popLast() {
            slot = reused
            keys[Int(slot)] = key
            buckets[Int(slot)] = bucket
        } else {
            slot = Int32(keys.count)
            keys.append(key)
            buckets.append(bucket)
            previous.append(Self.none)
            next.append(Self.none)
        }
        slotOfKey[key] = slot
        linkAtHead(slot)
        return slot
    }

    private mutating func remove(_ slot: Int32) {
        guard slot != Self.none else { return }
        unlink(slot)
        slotOfKey[keys[Int(slot)]] = nil
        // Let the key's storage go now rather than when the slot is reused.
        keys[Int(slot)] = ""
        freeSlots.append(slot)
    }

    private mutating func moveToHead(_ slot: Int32) {
        guard slot != head else { return }
        unlink(slot)
        linkAtHead(slot)
    }

    private mutating func linkAtHead(_ slot: Int32) {
        previous[Int(slot)] = Self.none
        next[Int(slot)] = head
        if head != Self.none { previous[Int(head)] = slot }
        head = slot
        if tail == Self.none { tail = slot }
    }

    private mutating func unlink(_ slot: Int32) {
        let before = previous[Int(slot)]
        let after = next[Int(slot)]
        if before != Self.none { next[Int(before)] = after } else { head = after }
        if after != Self.none { previous[Int(after)] = before } else { tail = before }
        previous[Int(slot)] = Self.none
        next[Int(slot)] = Self.none
    }
}
