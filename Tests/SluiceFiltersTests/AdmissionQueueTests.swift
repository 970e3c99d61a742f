import SluiceFilterAPI
import SluiceFilters
import Testing

/// `AdmissionQueue` alone: order, bounds, removal, deadlines and positions, on a `ManualClock`.
struct AdmissionQueueTests {
    typealias Queue = AdmissionQueue<String>

    private let clock = ManualClock()

    private func queue(maxLength: Int = 100, maxPerKey: Int = 100, maxWait: Duration = .seconds(5)) -> Queue {
        Queue(limits: .init(maxLength: maxLength, maxPerKey: maxPerKey, maxWait: maxWait))
    }

    /// Enqueues `name` (its payload too) and expects it to be accepted.
    private func add(_ q: inout Queue, _ ticket: UInt64, key: String, _ priority: AdmissionPriority = .normal,
                     sourceLocation: SourceLocation = #_sourceLocation) {
        let refusal = q.enqueue(ticket, key: key, priority: priority, payload: "\(key)\(ticket)", now: clock.now())
        #expect(refusal == nil, sourceLocation: sourceLocation)
    }

    private func drain(_ q: inout Queue) -> [UInt64] {
        var order: [UInt64] = []
        while let next = q.popNext() { order.append(next.ticket) }
        return order
    }

    @Test func theOldestEntryIsFoundWhateverItsClass() {
        var q = queue()
        #expect(q.oldestEnqueued == nil)
        let first = clock.now()
        add(&q, 1, key: "a", .low)
        clock.advance(by: .seconds(1))
        add(&q, 2, key: "b", .high)
        #expect(q.oldestEnqueued == first)
        // The high entry leaves first; the low one is still the oldest.
        #expect(q.popNext()?.ticket == 2)
        #expect(q.oldestEnqueued == first)
        #expect(q.popNext()?.ticket == 1)
        #expect(q.oldestEnqueued == nil)
    }

    @Test func higherClassesGoFirstAndEachClassInArrivalOrderForOneKey() {
        var q = queue()
        add(&q, 1, key: "k", .low)
        add(&q, 2, key: "k", .normal)
        add(&q, 3, key: "k", .high)
        add(&q, 4, key: "k", .normal)
        add(&q, 5, key: "k", .high)
        #expect(q.admissionOrder == [3, 5, 2, 4, 1])
        #expect(q.peekNext()?.ticket == 3)
        #expect(drain(&q) == [3, 5, 2, 4, 1])
        #expect(q.isEmpty)
        #expect(q.popNext() == nil)
    }

    @Test func keysTakeTurnsWithinAClass() {
        var q = queue()
        add(&q, 1, key: "a")
        add(&q, 2, key: "a")
        add(&q, 3, key: "a")
        add(&q, 4, key: "b")
        add(&q, 5, key: "c")
        add(&q, 6, key: "b")
        // a, b, c in the order they first came; each gives up its oldest entry per turn.
        #expect(drain(&q) == [1, 4, 5, 2, 6, 3])
    }

    @Test func aKeyThatEmptiedAndCameBackJoinsAtTheBack() {
        var q = queue()
        add(&q, 1, key: "a")
        add(&q, 2, key: "b")
        #expect(q.popNext()?.ticket == 1)  // a's turn; a has nothing left and leaves the rotation
        add(&q, 3, key: "a")
        add(&q, 4, key: "c")
        #expect(drain(&q) == [2, 3, 4])
    }

    @Test func boundsTheLengthAndEachKeysShare() {
        var q = queue(maxLength: 4, maxPerKey: 2)
        add(&q, 1, key: "a")
        add(&q, 2, key: "a", .high)
        // The share counts over every class.
        #expect(q.enqueue(3, key: "a", priority: .low, payload: "", now: clock.now()) == .keyShareFull)
        add(&q, 4, key: "b")
        add(&q, 5, key: "c")
        #expect(q.count == 4)
        #expect(q.enqueue(6, key: "d", priority: .high, payload: "", now: clock.now()) == .full)
        #expect(q.count(forKey: "a") == 2)
        #expect(q.count(forKey: "d") == 0)
        #expect(!q.contains(3) && !q.contains(6))
        // Room again once an entry leaves.
        _ = q.popNext()
        add(&q, 7, key: "d")
        #expect(q.count == 4)
    }

    @Test func aZeroLengthQueueRefusesEverything() {
        var q = queue(maxLength: 0)
        #expect(q.enqueue(1, key: "a", priority: .high, payload: "", now: clock.now()) == .full)
        #expect(q.isEmpty)
    }

    @Test func removeTakesAnEntryOutWherever() {
        var q = queue()
        add(&q, 1, key: "a")
        add(&q, 2, key: "b")
        add(&q, 3, key: "a")
        add(&q, 4, key: "b", .low)
        #expect(q.remove(2)?.payload == "b2")
        #expect(q.remove(2) == nil)
        #expect(q.count(forKey: "b") == 1)
        #expect(q.count == 3)
        // b has no normal entry left, so a has the normal class to itself.
        #expect(q.position(of: 3) == 2)
        #expect(q.remove(4) != nil)
        #expect(q.count(forKey: "b") == 0)
        #expect(drain(&q) == [1, 3])
    }

    @Test func entriesExpireAtTheirDeadline() {
        var q = queue(maxWait: .seconds(2))
        add(&q, 1, key: "a")
        clock.advance(by: .seconds(1))
        add(&q, 2, key: "b")
        #expect(q.nextDeadline == clock.now() + .seconds(1))
        clock.advance(by: .milliseconds(999))
        #expect(q.removeExpired(now: clock.now()).isEmpty)
        clock.advance(by: .milliseconds(1))
        #expect(q.removeExpired(now: clock.now()).map(\.ticket) == [1])
        #expect(q.count == 1)
        // A new max wait applies to later entries only.
        q.limits.maxWait = .milliseconds(100)
        add(&q, 3, key: "c")
        clock.advance(by: .milliseconds(100))
        #expect(q.removeExpired(now: clock.now()).map(\.ticket) == [3])
        clock.advance(by: .seconds(1))
        #expect(q.removeExpired(now: clock.now()).map(\.ticket) == [2])
        #expect(q.isEmpty)
        #expect(q.nextDeadline == nil)
    }

    @Test func positionsFollowTheAdmissionOrder() {
        var q = queue()
        add(&q, 1, key: "a", .low)
        add(&q, 2, key: "a")
        add(&q, 3, key: "a")
        add(&q, 4, key: "b")
        add(&q, 5, key: "c", .high)
        #expect(q.position(of: 5) == 1)
        #expect(q.position(of: 2) == 2)
        #expect(q.position(of: 4) == 3)
        #expect(q.position(of: 3) == 4)
        #expect(q.position(of: 1) == 5)
        #expect(q.position(of: 99) == nil)
    }

    /// Random arrivals, departures and admissions: `position` always agrees with the order
    /// `popNext` takes, and the counts stay exact.
    @Test func positionsAndCountsStayConsistentUnderRandomOperations() {
        var random = SplitMix64(seed: 0x5EED)
        var q = queue(maxLength: 40, maxPerKey: 12)
        var present: Set<UInt64> = []
        var nextTicket: UInt64 = 1
        let keys = ["a", "b", "c", "d", "e"]
        for step in 0..<3000 {
            switch random.next() % 10 {
            case 0...5:
                let key = keys[Int(random.next() % UInt64(keys.count))]
                let priority = AdmissionPriority.allCases[Int(random.next() % 3)]
                let ticket = nextTicket
                nextTicket += 1
                if q.enqueue(ticket, key: key, priority: priority, payload: key, now: clock.now()) == nil {
                    present.insert(ticket)
                }
            case 6, 7:
                if let victim = present.randomElement(using: &random) {
                    #expect(q.remove(victim)?.ticket == victim)
                    present.remove(victim)
                }
            default:
                let expected = q.admissionOrder.first
                let popped = q.popNext()
                #expect(popped?.ticket == expected)
                if let popped { present.remove(popped.ticket) }
            }
            #expect(q.count == present.count)
            #expect(q.count <= 40)
            for key in keys { #expect(q.count(forKey: key) <= 12) }
            if step % 25 == 0 {
                let order = q.admissionOrder
                #expect(Set(order) == present)
                for (index, ticket) in order.enumerated() {
                    #expect(q.position(of: ticket) == index + 1, "step \(step), ticket \(ticket)")
                }
            }
        }
    }

    @Test func priorityHeaderValues() {
        #expect(AdmissionPriority(headerValue: "high") == .high)
        #expect(AdmissionPriority(headerValue: " LOW ") == .low)
        #expect(AdmissionPriority(headerValue: "Normal") == .normal)
        #expect(AdmissionPriority(headerValue: "urgent") == .normal)
        #expect(AdmissionPriority(headerValue: nil) == .normal)
        #expect(AdmissionPriority.high < .normal && AdmissionPriority.normal < .low)
    }
}

/// A small seeded generator, so the random test is the same on every run.
private struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
