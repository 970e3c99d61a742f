import SluiceFilterAPI
@testable import SluiceFilters
import Testing

/// The block of stream slots an instance leases in batch mode, without Redis or sleeping: every
/// call that depends on time takes an instant, moved by hand.
struct SlotBlockTests {
    private let t0 = MonotonicInstant(nanoseconds: 1_000_000_000)
    private let hold: Duration = .seconds(1)

    /// Opens `count` streams on `block` as the filter does: a free slot when there is one, else a
    /// grow that Redis grants in full (segments `s0`, `s1`, …). Answers the sizes asked for.
    @discardableResult
    private func open(_ count: Int, on block: inout SlotBlock, batch: Int, at now: MonotonicInstant) -> [Int] {
        var asked: [Int] = []
        for _ in 0..<count {
            let took = block.acquire(now: now)
            if took { continue }
            let slots = block.grow(batch: batch)
            block.grown("s\(block.segments.count)", granted: slots, forStream: true, now: now)
            asked.append(slots)
        }
        return asked
    }

    @Test func growsByDoublingUpToTheBatchAndTheStreamTakesTheFirstSlot() {
        var block = SlotBlock(now: t0)
        let took = block.acquire(now: t0)
        #expect(!took)
        let asked = open(40, on: &block, batch: 8, at: t0)
        #expect(asked == [1, 1, 2, 4, 8, 8, 8, 8])
        #expect(block.used == 40 && block.size == 40 && block.free == 0)
        #expect(block.segments.map(\.count) == asked)
    }

    @Test func aRefusedGrowLeavesTheBlockAsItWas() {
        var block = SlotBlock(now: t0)
        open(1, on: &block, batch: 5, at: t0)
        _ = block.grow(batch: 5)
        block.grown("refused", granted: 0, forStream: true, now: t0)
        #expect(block.size == 1 && block.used == 1 && block.growing == 0 && block.segments.count == 1)
    }

    @Test func prefetchesOnlyForBlocksOfFourOrMoreWithAQuarterFree() {
        var tiny = SlotBlock(now: t0)
        open(2, on: &tiny, batch: 5, at: t0)
        #expect(tiny.size == 2 && tiny.free == 0)
        let none = tiny.prefetchGrow(batch: 5)
        #expect(none == nil)
        var block = SlotBlock(now: t0)
        open(4, on: &block, batch: 100, at: t0)
        #expect(block.size == 4 && block.free == 0)
        let ahead = block.prefetchGrow(batch: 100)
        #expect(ahead == 4)
        let second = block.prefetchGrow(batch: 100)
        #expect(second == nil)  // one grow at a time
        block.grown("p", granted: 4, forStream: false, now: t0)
        #expect(block.size == 8 && block.used == 4)
        let halfFree = block.prefetchGrow(batch: 100)
        #expect(halfFree == nil)
        // A block far larger than the batch prefetches only when a quarter of the batch is left,
        // and never to more than the batch free.
        var large = SlotBlock(now: t0)
        open(40, on: &large, batch: 8, at: t0)
        for _ in 0..<3 { large.release() }
        let notYet = large.prefetchGrow(batch: 8)
        #expect(notYet == nil)  // 3 free: more than a quarter of 8
        let took = large.acquire(now: t0)
        #expect(took)
        let upToTheBatch = large.prefetchGrow(batch: 8)
        #expect(upToTheBatch == 6)  // 2 free: 6 more makes 8
        large.grown("p", granted: 6, forStream: false, now: t0)
        #expect(large.free == 8)
    }

    @Test func freeSlotsAboveTheBatchGoBackAtOnceAndAllOnceIdleForHold() {
        var block = SlotBlock(now: t0)
        open(16, on: &block, batch: 8, at: t0)
        #expect(block.segments.map(\.count) == [1, 1, 2, 4, 8])
        for _ in 0..<15 { block.release() }
        // 15 free, batch 8: back down to 4 free (half the batch), from the newest segments.
        let removals = block.shrink(batch: 8, hold: hold, now: t0 + .milliseconds(100))
        #expect(removals == [SlotBlock.Removal(id: "s4", from: 1, to: 8), SlotBlock.Removal(id: "s3", from: 2, to: 4)])
        #expect(block.size == 5 && block.free == 4)
        let again = block.shrink(batch: 8, hold: hold, now: t0 + .milliseconds(200))
        #expect(again.isEmpty)
        // No stream took a slot for `hold`: every free slot goes.
        let idle = block.shrink(batch: 8, hold: hold, now: t0 + hold)
        #expect(idle.reduce(0) { $0 + $1.to - $1.from + 1 } == 4)
        #expect(block.size == 1 && block.used == 1)
        block.release()
        _ = block.shrink(batch: 8, hold: hold, now: t0 + .seconds(3))
        #expect(block.isEmpty)
    }

    @Test func aStreamTakingASlotKeepsTheFreeOnesFromIdling() {
        var block = SlotBlock(now: t0)
        open(3, on: &block, batch: 4, at: t0)
        #expect(block.size == 4)
        block.release()
        block.release()
        let took = block.acquire(now: t0 + .milliseconds(900))
        #expect(took)
        let removals = block.shrink(batch: 4, hold: hold, now: t0 + .milliseconds(1500))
        #expect(removals.isEmpty)
        #expect(block.free == 2)
    }

    @Test func aRenewalThatLostMembersShrinksTheBlockAndNoSlotIsHandedOutBeyondIt() {
        var block = SlotBlock(now: t0)
        open(5, on: &block, batch: 4, at: t0)
        #expect(block.size == 8 && block.used == 5)
        // Redis lost segment s3 (4 slots) and had room for none of them again.
        block.renewed("s3", kept: 0)
        block.renewed("s0", kept: 1)
        block.renewed("unknown", kept: 0)
        #expect(block.size == 4 && block.segments.map(\.id) == ["s0", "s1", "s2"])
        // 5 streams on 4 slots: nothing more until enough of them end.
        var took = block.acquire(now: t0)
        #expect(!took)
        block.release()
        took = block.acquire(now: t0)
        #expect(!took)
        block.release()
        took = block.acquire(now: t0)
        #expect(took)
    }
}
