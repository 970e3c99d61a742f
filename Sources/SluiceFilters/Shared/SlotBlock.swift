import SluiceFilterAPI

/// The stream slots one instance leases from Redis as a block and hands out locally
/// (`connection_manager` and `admission` with `shared: { batch: N }`, see `SharedBatch`). Pure: no
/// clock, no lock, no I/O; every call that depends on time takes it. `StreamBlocks` keeps one per
/// client key behind a lock and does the Redis side.
///
/// In Redis a block is a set of lease members, one per slot, in the same sorted sets as the exact
/// mode's leases, so both modes count each other. It is made of segments, one per grow (each with
/// its own id, so grows from several workers never collide); slot `i` of segment `id` is the member
/// `id:i`.
///
/// The rules, with `batch` = N:
/// - a stream takes a free slot of the block (`acquire`) without a round trip;
/// - when none is free it waits for a grow script (`grow`), atomic against the limit, that adds up
///   to `max(1, min(N, used))` slots (the block roughly doubles, by N at most) and gives the first to
///   the stream; a grow that gets no slot refuses the stream;
/// - when a quarter of a block of 4 or more (and of N) is left free, one grow goes ahead in the
///   background (`prefetchGrow`) up to N free slots, so streams rarely wait;
/// - free slots above N are given back down to N/2, and all free slots once no stream took one for
///   `hold` (`shrink`);
/// - the block's members are renewed every third of `lease_ttl`; a member Redis lost (it expired, or
///   Redis restarted) is taken again if the limit has room, else the block shrinks to what it keeps.
///
/// Invariant: a stream holds a slot only when the slot is a member in Redis, so the slots held in
/// all never exceed the limit (over-admission zero); each instance keeps at most N free slots per
/// key beyond `hold` (stranding at most instances × N per limit).
struct SlotBlock: Sendable, Equatable {
    /// One grow's slots: members `id:1` through `id:count`.
    struct Segment: Sendable, Equatable {
        let id: String
        var count: Int
    }

    /// Slots to give back: members `id:from` through `id:to`.
    struct Removal: Sendable, Equatable {
        let id: String
        let from: Int
        let to: Int
    }

    private(set) var segments: [Segment] = []
    /// Slots leased in Redis: the sum of the segments' counts.
    private(set) var size = 0
    /// Slots held by streams of this instance.
    private(set) var used = 0
    /// Grows on their way.
    private(set) var growing = 0
    /// When a stream last took a slot (or the block was made).
    private(set) var lastAcquire: MonotonicInstant

    init(now: MonotonicInstant) {
        lastAcquire = now
    }

    var free: Int { max(0, size - used) }

    /// Takes a free slot; false when there is none.
    mutating func acquire(now: MonotonicInstant) -> Bool {
        guard used < size else { return false }
        used += 1
        lastAcquire = now
        return true
    }

    /// Gives a stream's slot back to the block (not to Redis: `shrink` decides that).
    mutating func release() {
        used = max(0, used - 1)
    }

    /// A grow for a stream that found no free slot: how many slots to ask for (at least 1).
    mutating func grow(batch: Int) -> Int {
        growing += 1
        return max(1, min(batch, used))
    }

    /// A grow ahead of need, or nil: when a quarter or less of the block (and of the batch) is left
    /// free in a block of 4 or more, and no grow is on its way. It asks for what brings the free
    /// slots up to the batch, by the block's size in use at most. Small blocks never prefetch: a held
    /// slot matters more there.
    mutating func prefetchGrow(batch: Int) -> Int? {
        guard growing == 0, size >= 4, free * 4 <= min(size, batch), free < batch else { return nil }
        growing += 1
        return max(1, min(batch - free, used))
    }

    /// A grow was answered: `granted` slots as segment `id` (0 when refused or failed). For a
    /// stream's grow, the stream takes the first of them.
    mutating func grown(_ id: String, granted: Int, forStream: Bool, now: MonotonicInstant) {
        growing = max(0, growing - 1)
        guard granted > 0 else { return }
        segments.append(Segment(id: id, count: granted))
        size += granted
        if forStream {
            used += 1
            lastAcquire = now
        }
    }

    /// The free slots to give back at `now`: all of them once no stream took one for `hold`, else
    /// those above `batch` down to `batch / 2`. Taken from the newest segments; the block shrinks
    /// at once (the removal is then sent to Redis).
    mutating func shrink(batch: Int, hold: Duration, now: MonotonicInstant) -> [Removal] {
        let free = self.free
        guard free > 0 else { return [] }
        var giving: Int
        if now.since(lastAcquire) >= hold {
            giving = free
        } else if free > batch {
            giving = free - batch / 2
        } else {
            return []
        }
        var removals: [Removal] = []
        while giving > 0, var last = segments.last {
            let k = min(giving, last.count)
            removals.append(Removal(id: last.id, from: last.count - k + 1, to: last.count))
            last.count -= k
            giving -= k
            size -= k
            segments.removeLast()
            if last.count > 0 { segments.append(last) }
        }
        return removals
    }

    /// Every slot of the block, to give back when the process stops; the block is empty afterwards
    /// (streams still counted in `used` hold nothing any more).
    mutating func surrender() -> [Removal] {
        let removals = segments.map { Removal(id: $0.id, from: 1, to: $0.count) }
        segments = []
        size = 0
        return removals
    }

    /// A renewal was answered: segment `id` keeps its first `kept` slots (fewer than it had when
    /// Redis lost members and the limit had no room to take them again).
    mutating func renewed(_ id: String, kept: Int) {
        guard let at = segments.firstIndex(where: { $0.id == id }) else { return }
        let lost = segments[at].count - min(segments[at].count, max(0, kept))
        guard lost > 0 else { return }
        segments[at].count -= lost
        size -= lost
        if segments[at].count == 0 { segments.remove(at: at) }
    }

    /// True when nothing is leased, used or on its way: the block can be forgotten.
    var isEmpty: Bool { size == 0 && used == 0 && growing == 0 }
}
