import SluiceFilterAPI
import SluiceFilters
import Testing

/// The rules of keeping resumable streams, on `StreamTable` directly, with time as a parameter.
struct StreamTableTests {
    private static let alice = CredentialDigest(of: "Bearer alice")
    private static let mallory = CredentialDigest(of: "Bearer mallory")
    private static let t0 = MonotonicInstant(nanoseconds: 1_000_000_000)

    private static func event(_ seq: Int, size: Int = 100) -> [UInt8] {
        let head = Array("id: \(seq)\ndata: ".utf8)
        return head + Array(repeating: UInt8(ascii: "x"), count: max(0, size - head.count - 2)) + Array("\n\n".utf8)
    }

    private static func table(window: Duration = .seconds(60), maxBytes: Int = 1_000, maxTotal: Int = 10_000) -> StreamTable {
        StreamTable(limits: StreamLimits(window: window, maxBytes: maxBytes, maxTotalBytes: maxTotal))
    }

    /// Appends events `range` of stream `id`, each `size` bytes, at `now`.
    private static func append(_ table: inout StreamTable, _ id: String, _ range: ClosedRange<Int>, size: Int = 100,
                               at now: MonotonicInstant = t0) -> [StreamTable.AppendAnswer] {
        range.map { table.append(id, seq: $0, eventID: String($0), bytes: event($0, size: size), now: now) }
    }

    @Test func aResumeReadsTheEventsAfterTheLastIDThenTheEnd() {
        var table = Self.table()
        table.begin("s", credential: Self.alice, dialect: .openai, now: Self.t0)
        #expect(Self.append(&table, "s", 1...5).allSatisfy { $0 == .kept })
        #expect(table.open("s", credential: Self.alice, lastEventID: "3", now: Self.t0) == .opened(cursor: 4, dialect: .openai, live: true))
        #expect(table.read("s", from: 4) == .events(Self.event(4) + Self.event(5), next: 6, ending: nil))
        #expect(Self.append(&table, "s", 6...6) == [.kept])
        #expect(table.read("s", from: 6) == .events(Self.event(6), next: 7, ending: nil))
        table.end("s", .complete, now: Self.t0)
        #expect(table.read("s", from: 7) == .events([], next: 7, ending: .complete))
        #expect(table.totalBytes == 600)
    }

    @Test func anotherCredentialOrAnUnknownIDIsNotFound() {
        var table = Self.table()
        table.begin("s", credential: Self.alice, dialect: .openai, now: Self.t0)
        _ = Self.append(&table, "s", 1...2)
        #expect(table.open("s", credential: Self.mallory, lastEventID: "1", now: Self.t0) == .notFound)
        #expect(table.open("t", credential: Self.alice, lastEventID: "1", now: Self.t0) == .notFound)
        #expect(table.open("s", credential: Self.alice, lastEventID: "9", now: Self.t0) == .unknownEventID)
    }

    @Test func anEndedStreamIsKeptForTheWindowThenGone() {
        var table = Self.table(window: .seconds(60))
        table.begin("s", credential: Self.alice, dialect: .anthropic, now: Self.t0)
        _ = Self.append(&table, "s", 1...3)
        table.end("s", .cut("cut"), now: Self.t0)
        #expect(table.open("s", credential: Self.alice, lastEventID: "1", now: Self.t0 + .seconds(59))
            == .opened(cursor: 2, dialect: .anthropic, live: false))
        #expect(table.open("s", credential: Self.alice, lastEventID: "1", now: Self.t0 + .seconds(60)) == .gone(.expired))
        #expect(table.totalBytes == 0)
        #expect(table.streamCount == 0)
        // Its tombstone tells the owner only.
        #expect(table.open("s", credential: Self.mallory, lastEventID: "1", now: Self.t0 + .seconds(61)) == .notFound)
        #expect(table.open("s", credential: Self.alice, lastEventID: nil, now: Self.t0 + .seconds(61)) == .gone(.expired))
    }

    @Test func whileItsClientReadsAStreamKeepsItsNewestEventsAndNeverReplaysPartOfTheRest() {
        var table = Self.table(maxBytes: 300)
        table.begin("s", credential: Self.alice, dialect: .openai, now: Self.t0)
        #expect(Self.append(&table, "s", 1...5).allSatisfy { $0 == .kept })
        #expect(table.totalBytes == 300)
        #expect(table.open("s", credential: Self.alice, lastEventID: nil, now: Self.t0) == .gone(.outOfWindow))
        #expect(table.open("s", credential: Self.alice, lastEventID: "1", now: Self.t0) == .gone(.outOfWindow))
        // The newest dropped event still marks where the kept ones begin.
        #expect(table.open("s", credential: Self.alice, lastEventID: "2", now: Self.t0) == .opened(cursor: 3, dialect: .openai, live: true))
        #expect(table.read("s", from: 2) == .lost(.outOfWindow))
        #expect(table.read("s", from: 3) == .events(Self.event(3) + Self.event(4) + Self.event(5), next: 6, ending: nil))
        #expect(table.append("s", seq: 6, eventID: "6", bytes: Self.event(6, size: 301), now: Self.t0) == .lost(.tooLarge))
    }

    @Test func onceItsClientLeftAStreamKeepsEverythingAndEndsAtItsBudget() {
        var table = Self.table(maxBytes: 500)
        table.begin("s", credential: Self.alice, dialect: .openai, now: Self.t0)
        _ = Self.append(&table, "s", 1...2)
        let left = table.originLeft("s", now: Self.t0)
        #expect(left)
        #expect(Self.append(&table, "s", 3...5).allSatisfy { $0 == .kept })
        #expect(table.append("s", seq: 6, eventID: "6", bytes: Self.event(6), now: Self.t0) == .overBudget)
        #expect(table.open("s", credential: Self.alice, lastEventID: "2", now: Self.t0) == .opened(cursor: 3, dialect: .openai, live: false))
        guard case .events(let bytes, _, let ending) = table.read("s", from: 3) else {
            Issue.record("the kept events were not readable")
            return
        }
        #expect(bytes == Self.event(3) + Self.event(4) + Self.event(5))
        #expect(ending == .cut("the stream was cancelled: it reached max_bytes while its client was away"))
    }

    @Test func aDetachedUpstreamRunsOnWhileReadAndStopsAWindowAfterTheLastReaderLeft() {
        var table = Self.table(window: .seconds(30))
        table.begin("s", credential: Self.alice, dialect: .openai, now: Self.t0)
        _ = Self.append(&table, "s", 1...2)
        let left = table.originLeft("s", now: Self.t0)
        #expect(left)
        #expect(table.detachedCheck("s", now: Self.t0 + .seconds(10)) == .runOn(after: .seconds(20)))
        // A resumer follows it: no deadline while it reads.
        #expect(table.open("s", credential: Self.alice, lastEventID: "2", now: Self.t0 + .seconds(20))
            == .opened(cursor: 3, dialect: .openai, live: true))
        #expect(table.detachedCheck("s", now: Self.t0 + .seconds(40)) == .runOn(after: .seconds(30)))
        table.readerLeft("s", now: Self.t0 + .seconds(50))
        #expect(table.detachedCheck("s", now: Self.t0 + .seconds(79)) == .runOn(after: .seconds(1)))
        #expect(table.detachedCheck("s", now: Self.t0 + .seconds(80)) == .cancel)
        #expect(table.open("s", credential: Self.alice, lastEventID: "2", now: Self.t0 + .seconds(80)) == .gone(.expired))
    }

    @Test func aReaderOnAnotherInstanceKeepsADetachedStreamForAWindowFromWhenItWasHeard() {
        var table = Self.table(window: .seconds(10))
        table.begin("s", credential: Self.alice, dialect: .openai, now: Self.t0)
        let lefts = table.originLeft("s", now: Self.t0)
        #expect(lefts)
        // Heard at 8 s: kept until 18 s, not 10 s.
        table.readElsewhere("s", now: Self.t0 + .seconds(8))
        let check1 = table.detachedCheck("s", now: Self.t0 + .seconds(12))
        #expect(check1 == .runOn(after: .seconds(6)))
        let check2 = table.detachedCheck("s", now: Self.t0 + .seconds(18))
        #expect(check2 == .cancel)
        // A deadline that passed stands: hearing of a reader later does not bring the stream back.
        table.begin("t", credential: Self.alice, dialect: .openai, now: Self.t0)
        let leftt = table.originLeft("t", now: Self.t0)
        #expect(leftt)
        table.readElsewhere("t", now: Self.t0 + .seconds(11))
        let check3 = table.detachedCheck("t", now: Self.t0 + .seconds(11))
        #expect(check3 == .cancel)
        // A stream read here keeps no deadline; an ended one keeps its own.
        table.begin("u", credential: Self.alice, dialect: .openai, now: Self.t0)
        table.readElsewhere("u", now: Self.t0)
        let check4 = table.detachedCheck("u", now: Self.t0 + .seconds(30))
        #expect(check4 == .runOn(after: .seconds(10)))
    }

    @Test func pastTheGlobalCapTheOldestEndedStreamsGoFirstThenTheLiveOneLosesResumability() {
        var table = Self.table(maxBytes: 300, maxTotal: 500)
        for (i, (id, count)) in [("a", 3), ("b", 2)].enumerated() {
            table.begin(id, credential: Self.alice, dialect: .openai, now: Self.t0 + .seconds(i))
            _ = Self.append(&table, id, 1...count, at: Self.t0 + .seconds(i))
            table.end(id, .complete, now: Self.t0 + .seconds(i))
        }
        #expect(table.totalBytes == 500)
        table.begin("c", credential: Self.alice, dialect: .openai, now: Self.t0 + .seconds(2))
        #expect(Self.append(&table, "c", 1...1, at: Self.t0 + .seconds(2)) == [.kept])
        #expect(table.open("a", credential: Self.alice, lastEventID: "1", now: Self.t0 + .seconds(2)) == .gone(.evicted))
        #expect(table.open("b", credential: Self.alice, lastEventID: "1", now: Self.t0 + .seconds(2))
            == .opened(cursor: 2, dialect: .openai, live: false))
        _ = Self.append(&table, "c", 2...3, at: Self.t0 + .seconds(2))
        // "b" goes to make room for "d"; then nothing ended is left, and a live stream is never
        // dropped for another: the one that does not fit loses resumability.
        table.begin("d", credential: Self.alice, dialect: .openai, now: Self.t0 + .seconds(3))
        #expect(Self.append(&table, "d", 1...2, at: Self.t0 + .seconds(3)) == [.kept, .kept])
        #expect(Self.append(&table, "d", 3...3, at: Self.t0 + .seconds(3)) == [.lost(.memoryCap)])
        #expect(table.open("d", credential: Self.alice, lastEventID: "1", now: Self.t0 + .seconds(3)) == .gone(.memoryCap))
        #expect(table.open("c", credential: Self.alice, lastEventID: "1", now: Self.t0 + .seconds(3))
            == .opened(cursor: 2, dialect: .openai, live: true))
        #expect(table.totalBytes == 300)
        let losses = table.takeLosses().map { "\($0.id):\($0.loss.rawValue)" }
        #expect(losses == ["a:evicted", "b:evicted", "d:memory_cap"])
    }

    @Test func upstreamIDsAreFoundAsGiven() {
        var table = Self.table()
        table.begin("s", credential: Self.alice, dialect: .openai, now: Self.t0)
        for (seq, id) in [(1, "msg-a"), (2, "msg-b"), (3, "msg-c")] {
            #expect(table.append("s", seq: seq, eventID: id, bytes: Self.event(seq), now: Self.t0) == .kept)
        }
        #expect(table.open("s", credential: Self.alice, lastEventID: "msg-b", now: Self.t0) == .opened(cursor: 3, dialect: .openai, live: true))
        #expect(table.open("s", credential: Self.alice, lastEventID: "2", now: Self.t0) == .unknownEventID)
    }
}
