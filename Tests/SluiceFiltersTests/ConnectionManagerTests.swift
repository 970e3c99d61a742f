import SluiceFilters
import Testing

/// `ConnectionSlots`: the pure slot accounting behind `connection_manager`.
struct ConnectionManagerTests {
    private typealias Limits = ConnectionSlots.Limits

    @Test func globalLimitAdmitsUpToItThenRefuses() {
        let slots = Table()
        let limits = Limits(global: 2)
        #expect(slots.acquire("a", within: limits) == .admitted)
        #expect(slots.acquire("b", within: limits) == .admitted)
        #expect(slots.acquire("c", within: limits) == .globalFull)
        #expect(slots.active == 2)
        #expect(slots.active(for: "c") == 0)
    }

    @Test func perClientLimitCountsEachKeyApart() {
        let slots = Table()
        let limits = Limits(perClient: 1)
        #expect(slots.acquire("a", within: limits) == .admitted)
        #expect(slots.acquire("a", within: limits) == .clientFull)
        #expect(slots.acquire("b", within: limits) == .admitted)
        #expect(slots.active == 2)
        #expect(slots.clientCount == 2)
        #expect(slots.active(for: "a") == 1)
    }

    @Test func aClientOverItsShareIsToldSoEvenWhenTheProxyIsFull() {
        let slots = Table()
        let limits = Limits(global: 2, perClient: 2)
        #expect(slots.acquire("a", within: limits) == .admitted)
        #expect(slots.acquire("a", within: limits) == .admitted)
        #expect(slots.acquire("a", within: limits) == .clientFull)
        #expect(slots.acquire("b", within: limits) == .globalFull)
    }

    @Test func refusalsTakeNothing() {
        let slots = Table()
        let limits = Limits(global: 1, perClient: 1)
        #expect(slots.acquire("a", within: limits) == .admitted)
        let before = slots.value
        #expect(slots.acquire("a", within: limits) == .clientFull)
        #expect(slots.acquire("b", within: limits) == .globalFull)
        #expect(slots.value == before)
    }

    @Test func releaseFreesTheSlotAndForgetsIdleKeys() {
        let slots = Table()
        let limits = Limits(global: 1)
        #expect(slots.acquire("a", within: limits) == .admitted)
        #expect(slots.release("a"))
        #expect(slots.active == 0)
        #expect(slots.clientCount == 0)
        #expect(slots.value == ConnectionSlots())
        #expect(slots.acquire("b", within: limits) == .admitted)
    }

    @Test func releaseWithoutASlotChangesNothing() {
        let slots = Table()
        #expect(!slots.release("a"))
        #expect(slots.active == 0)
        #expect(slots.acquire("a", within: Limits(global: 5)) == .admitted)
        #expect(slots.release("a"))
        #expect(!slots.release("a"))
        #expect(slots.active == 0)
        #expect(slots.active(for: "a") == 0)
    }

    @Test func noLimitsAdmitsEverythingAndStillCounts() {
        let slots = Table()
        for _ in 0..<100 { #expect(slots.acquire("a", within: Limits()) == .admitted) }
        #expect(slots.active == 100)
        #expect(slots.active(for: "a") == 100)
    }

    /// Two chain versions count into one table during a reload, each with its own limits.
    @Test func limitsBelongToTheCallNotTheTable() {
        let slots = Table()
        #expect(slots.acquire("a", within: Limits(global: 3)) == .admitted)
        #expect(slots.acquire("a", within: Limits(global: 3)) == .admitted)
        #expect(slots.acquire("b", within: Limits(global: 3)) == .admitted)
        // The new version lowered the limit below what is held: nothing is admitted until below it.
        #expect(slots.acquire("c", within: Limits(global: 2)) == .globalFull)
        #expect(slots.release("a"))
        #expect(slots.acquire("c", within: Limits(global: 2)) == .globalFull)
        #expect(slots.release("b"))
        #expect(slots.acquire("c", within: Limits(global: 2)) == .admitted)
        #expect(slots.acquire("a", within: Limits(perClient: 1)) == .clientFull)
    }

    /// Any interleaving of acquires and releases keeps the totals equal to the per-key counts.
    @Test func totalsStayTheSumOfTheKeysUnderARandomSchedule() {
        let slots = Table()
        var model: [String: Int] = [:]
        var generator = SplitMix64(seed: 42)
        let keys = ["a", "b", "c", "d"]
        let limits = Limits(global: 6, perClient: 3)
        for _ in 0..<5_000 {
            let key = keys[Int(generator.next() % UInt64(keys.count))]
            if generator.next() % 2 == 0 {
                let held = model[key, default: 0]
                let total = model.values.reduce(0, +)
                let expected: ConnectionSlots.Admission = held >= 3 ? .clientFull : total >= 6 ? .globalFull : .admitted
                #expect(slots.acquire(key, within: limits) == expected)
                if expected == .admitted { model[key] = held + 1 }
            } else {
                let held = model[key, default: 0]
                #expect(slots.release(key) == (held > 0))
                if held > 0 { model[key] = held - 1 == 0 ? nil : held - 1 }
            }
            #expect(slots.active == model.values.reduce(0, +))
            #expect(slots.clientCount == model.count)
        }
    }
}

/// `ConnectionSlots` behind a reference, so `#expect` can call its mutating members.
private final class Table {
    var value = ConnectionSlots()
    var active: Int { value.active }
    var clientCount: Int { value.clientCount }
    func active(for key: String) -> Int { value.active(for: key) }
    func acquire(_ key: String, within limits: ConnectionSlots.Limits) -> ConnectionSlots.Admission {
        value.acquire(key, within: limits)
    }
    func release(_ key: String) -> Bool { value.release(key) }
}

/// A small deterministic generator, so the random schedule is the same on every run.
private struct SplitMix64 {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
