import SluiceFilterAPI
import Synchronization

/// Stream slots in batch mode (`shared: { batch: N }`): per client key, a `SlotBlock` of lease
/// members this instance holds in Redis and hands out locally, so a stream that finds a free slot
/// starts without a round trip. Used by `connection_manager` (global and per client) and by
/// `admission` (`max_active_streams`, client `all`). The members live in the same sorted sets as
/// `StreamLeases`' (scored by expiry on the server's clock), so both modes count each other.
///
/// Each block has a timer on the worker that first grew it, every `min(hold, lease_ttl / 3)`: it
/// gives back free slots (`SlotBlock.shrink`) and renews the block's members every third of
/// `lease_ttl`. A block whose instance died (SIGKILL) stops counting at most `lease_ttl` after its
/// last renewal.
///
/// Threads: one object serves every worker; the blocks sit behind one `Mutex`. Every call that
/// names a worker runs on that worker's loop thread.
final class StreamBlocks: Sendable {
    let store: any SharedStore
    let base: String
    let batch: SharedBatch
    let limits: ConnectionSlots.Limits
    private let clock: any SluiceClock
    /// This process's part of every segment id.
    private let instance = "b" + String(UInt64.random(in: 0...UInt64.max), radix: 36)
    private let counter = Atomic<UInt64>(0)
    private let blocks = Mutex<[String: Entry]>([:])

    private struct Entry {
        var block: SlotBlock
        var timerArmed = false
        var lastRenewal: MonotonicInstant
    }

    /// A grow asked for: its segment id, the client key and how many slots.
    struct Grow: Sendable {
        let id: String
        let client: String
        let slots: Int
        let forStream: Bool
    }

    init(store: any SharedStore, base: String, batch: SharedBatch, limits: ConnectionSlots.Limits, clock: any SluiceClock) {
        self.store = store
        self.base = base
        self.batch = batch
        self.limits = limits
        self.clock = clock
    }

    /// `previous`'s blocks when they are the same limit in the same keys (a reload that changed
    /// nothing of them keeps them), else new ones. The exchanges of the old chain give their slots back
    /// into the same blocks either way.
    static func adopting(_ previous: StreamBlocks?, store: any SharedStore, base: String, batch: SharedBatch,
                         limits: ConnectionSlots.Limits, clock: any SluiceClock) -> StreamBlocks {
        if let previous, previous.base == base, previous.batch == batch, previous.limits == limits,
           previous.store.leaseTTL == store.leaseTTL {
            return previous
        }
        return StreamBlocks(store: store, base: base, batch: batch, limits: limits, clock: clock)
    }

    /// How often each block's timer runs.
    private var tick: Duration { min(batch.hold, store.leaseTTL / 3) }

    // MARK: - Streams

    /// True when `client`'s block has a free slot now (a later `acquire` may still miss it).
    func canAcquire(_ client: String) -> Bool {
        blocks.withLock { $0[client].map { $0.block.free > 0 } ?? false }
    }

    /// Takes a free slot of `client`'s block for a stream, without a round trip; false when there is
    /// none. May start a grow ahead of need on `worker`.
    func acquire(_ client: String, worker: Int) -> Bool {
        let now = clock.now()
        let (taken, prefetch) = blocks.withLock { blocks -> (Bool, Grow?) in
            guard var entry = blocks[client], entry.block.acquire(now: now) else { return (false, nil) }
            let step = entry.block.prefetchGrow(batch: batch.size)
            blocks[client] = entry
            return (true, step.map { Grow(id: newID(), client: client, slots: $0, forStream: false) })
        }
        if let prefetch {
            store.run(growCall(prefetch), worker: worker) { [self] answer in _ = grown(prefetch, answer, worker: worker) }
        }
        return taken
    }

    /// A stream's slot goes back to its block (Redis hears of it when the block shrinks).
    func release(_ client: String) {
        blocks.withLock { blocks in
            blocks[client]?.block.release()
        }
    }

    /// The grow a stream that found no free slot asks for. Its answer must reach `grown` (nil when
    /// the call was not made).
    func streamGrow(_ client: String) -> Grow {
        let now = clock.now()
        let slots = blocks.withLock { blocks in
            var entry = blocks[client] ?? Entry(block: SlotBlock(now: now), lastRenewal: now)
            let slots = entry.block.grow(batch: batch.size)
            blocks[client] = entry
            return slots
        }
        return Grow(id: newID(), client: client, slots: slots, forStream: true)
    }

    /// Answers {0 granted, 1 client full, 2 all full; members in all afterwards; slots granted}.
    static let growScript = SharedScript(name: "block_grow", source: """
        if redis.replicate_commands then pcall(redis.replicate_commands) end
        local clock = redis.call('TIME')
        local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
        local ttl = tonumber(ARGV[2])
        local global = tonumber(ARGV[3])
        local perClient = tonumber(ARGV[4])
        local want = tonumber(ARGV[5])
        local need = tonumber(ARGV[6])
        redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
        redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
        local held = redis.call('ZCARD', KEYS[1])
        local clientRoom = want
        if perClient >= 0 then clientRoom = math.min(want, perClient - redis.call('ZCARD', KEYS[2])) end
        local room = clientRoom
        if global >= 0 then room = math.min(room, global - held) end
        if room < need or room <= 0 then
          if clientRoom < need or clientRoom <= 0 then return {1, held, 0} end
          return {2, held, 0}
        end
        for i = 1, room do
          redis.call('ZADD', KEYS[1], now + ttl, ARGV[1] .. ':' .. i)
          redis.call('ZADD', KEYS[2], now + ttl, ARGV[1] .. ':' .. i)
        end
        redis.call('PEXPIRE', KEYS[1], ttl)
        redis.call('PEXPIRE', KEYS[2], ttl)
        return {0, held + room, room}
        """)

    /// Answers, per segment given, how many of its first slots it keeps: present members are renewed,
    /// lost ones taken again while the limits have room; from the first that cannot be, the rest go.
    static let renewScript = SharedScript(name: "block_renew", source: """
        if redis.replicate_commands then pcall(redis.replicate_commands) end
        local clock = redis.call('TIME')
        local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
        local ttl = tonumber(ARGV[1])
        local global = tonumber(ARGV[2])
        local perClient = tonumber(ARGV[3])
        redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
        redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
        local n = redis.call('ZCARD', KEYS[1])
        local c = redis.call('ZCARD', KEYS[2])
        local kept = {}
        for j = 4, #ARGV, 2 do
          local id = ARGV[j]
          local count = tonumber(ARGV[j + 1])
          local keep = 0
          local cut = false
          for i = 1, count do
            local member = id .. ':' .. i
            if not cut and redis.call('ZSCORE', KEYS[1], member) then
              redis.call('ZADD', KEYS[1], 'XX', now + ttl, member)
              redis.call('ZADD', KEYS[2], now + ttl, member)
              keep = i
            elseif not cut and (global < 0 or n < global) and (perClient < 0 or c < perClient) then
              redis.call('ZADD', KEYS[1], now + ttl, member)
              redis.call('ZADD', KEYS[2], now + ttl, member)
              n = n + 1
              c = c + 1
              keep = i
            else
              cut = true
              redis.call('ZREM', KEYS[1], member)
              redis.call('ZREM', KEYS[2], member)
            end
          end
          kept[#kept + 1] = keep
        end
        redis.call('PEXPIRE', KEYS[1], ttl)
        redis.call('PEXPIRE', KEYS[2], ttl)
        return kept
        """)

    /// Answers {members in all afterwards}. Arguments: triples of segment id, first and last slot.
    static let shrinkScript = SharedScript(name: "block_shrink", source: """
        for j = 1, #ARGV, 3 do
          for i = tonumber(ARGV[j + 1]), tonumber(ARGV[j + 2]) do
            redis.call('ZREM', KEYS[1], ARGV[j] .. ':' .. i)
            redis.call('ZREM', KEYS[2], ARGV[j] .. ':' .. i)
          end
        end
        return {redis.call('ZCARD', KEYS[1])}
        """)

    /// The script call of `grow`; it goes on when granted.
    func growCall(_ grow: Grow) -> SharedCall {
        SharedCall(script: Self.growScript, keys: keys(grow.client),
                   arguments: [grow.id, SharedLimit.milliseconds(store.leaseTTL), String(limits.global ?? -1),
                               String(limits.perClient ?? -1), String(grow.slots), grow.forStream ? "1" : "0"],
                   goesOnWhenFirstValueIs: 0)
    }

    /// Takes in the answer to `grow` (nil: the call was not made): the block grows by what was
    /// granted, and a stream's grow hands the stream its first slot. Answers, for a stream's grow,
    /// the decision and the members held in all, or the failure; nil for a prefetch or a call not made.
    /// Loop thread of `worker`.
    @discardableResult
    func grown(_ grow: Grow, _ answer: SharedStoreAnswer?, worker: Int) -> Result<(ConnectionSlots.Admission, Int), SharedStoreFailure>? {
        var result: Result<(ConnectionSlots.Admission, Int), SharedStoreFailure>?
        var granted = 0
        switch answer {
        case .values(let v)? where v.count == 3:
            granted = v[0] == 0 ? Int(clamping: max(0, v[2])) : 0
            let admission: ConnectionSlots.Admission = v[0] == 0 ? .admitted : v[0] == 1 ? .clientFull : .globalFull
            result = .success((admission, Int(clamping: v[1])))
        case .values(let v)?:
            result = .failure(.badAnswer("\(v.count) values from the block script"))
        case .failed(let failure)?:
            result = .failure(failure)
        case nil:
            result = nil
        }
        let now = clock.now()
        let arm = blocks.withLock { blocks -> Bool in
            var entry = blocks[grow.client] ?? Entry(block: SlotBlock(now: now), lastRenewal: now)
            entry.block.grown(grow.id, granted: granted, forStream: grow.forStream, now: now)
            let arm = !entry.timerArmed && entry.block.size > 0
            if arm {
                entry.timerArmed = true
                entry.lastRenewal = now
            }
            if entry.block.isEmpty, !entry.timerArmed {
                blocks[grow.client] = nil
            } else {
                blocks[grow.client] = entry
            }
            return arm
        }
        if arm { schedule(grow.client, worker: worker) }
        return grow.forStream ? result : nil
    }

    // MARK: - The block's timer

    private func schedule(_ client: String, worker: Int) {
        store.schedule(after: tick, worker: worker) { [self] in tick(client, worker: worker) }
    }

    /// Gives back free slots, renews the members when due, and comes again while the block holds
    /// anything. Loop thread of `worker`.
    private func tick(_ client: String, worker: Int) {
        let now = clock.now()
        let renewDue = store.leaseTTL / 3
        let tick = self.tick
        let (removals, renewal, again) = blocks.withLock { blocks -> ([SlotBlock.Removal], [SlotBlock.Segment]?, Bool) in
            guard var entry = blocks[client] else { return ([], nil, false) }
            let removals = entry.block.shrink(batch: batch.size, hold: batch.hold, now: now)
            var renewal: [SlotBlock.Segment]?
            // Half a tick of slack: a timer that fires a little early must not put the renewal off
            // by a whole tick.
            if now.since(entry.lastRenewal) + tick / 2 >= renewDue, !entry.block.segments.isEmpty {
                entry.lastRenewal = now
                renewal = entry.block.segments
            }
            let again = !entry.block.isEmpty
            entry.timerArmed = again
            blocks[client] = again ? entry : nil
            return (removals, renewal, again)
        }
        if !removals.isEmpty {
            store.run(Self.shrinkScript, keys: keys(client),
                      arguments: removals.flatMap { [$0.id, String($0.from), String($0.to)] }, worker: worker) { _ in }
        }
        if let renewal {
            let arguments = [SharedLimit.milliseconds(store.leaseTTL), String(limits.global ?? -1), String(limits.perClient ?? -1)]
                + renewal.flatMap { [$0.id, String($0.count)] }
            store.run(Self.renewScript, keys: keys(client), arguments: arguments, worker: worker) { [self] answer in
                // No answer: the members live until their TTL, and the next renewal tries again.
                guard case .values(let kept) = answer, kept.count == renewal.count else { return }
                blocks.withLock { blocks in
                    for (segment, keep) in zip(renewal, kept) { blocks[client]?.block.renewed(segment.id, kept: Int(clamping: keep)) }
                }
            }
        }
        if again { schedule(client, worker: worker) }
    }

    /// Gives every block's slots back (the process stops); `done` runs once all were answered.
    /// Loop thread of `worker`.
    func giveBackAll(worker: Int, _ done: @escaping () -> Void) {
        let back = blocks.withLock { blocks -> [(String, [SlotBlock.Removal])] in
            var back: [(String, [SlotBlock.Removal])] = []
            for key in Array(blocks.keys) {
                let removals = blocks[key]!.block.surrender()
                if !removals.isEmpty { back.append((key, removals)) }
            }
            return back
        }
        SharedReturns.all(back, done) { item, answered in
            store.run(Self.shrinkScript, keys: keys(item.0), arguments: item.1.flatMap { [$0.id, String($0.from), String($0.to)] },
                      worker: worker) { _ in answered() }
        }
    }

    // MARK: - Reading

    /// Slots leased and used by this instance for `client`, for tests and diagnostics. Any thread.
    func figures(_ client: String) -> (size: Int, used: Int) {
        blocks.withLock { $0[client].map { ($0.block.size, $0.block.used) } ?? (0, 0) }
    }

    private func newID() -> String {
        instance + "." + String(counter.wrappingAdd(1, ordering: .relaxed).newValue, radix: 36)
    }

    private func keys(_ client: String) -> [String] {
        [base + ":all", base + ":client:" + client]
    }
}
