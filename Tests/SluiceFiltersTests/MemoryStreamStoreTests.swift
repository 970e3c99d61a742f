import SluiceFilterAPI
import SluiceFilters
import Synchronization
import Testing

/// `MemoryStreamStore`: the table behind a lock, the readers it wakes, and the clock it reads.
struct MemoryStreamStoreTests {
    private static let alice = "Bearer alice"

    private static func event(_ seq: Int) -> [UInt8] {
        Array("id: \(seq)\ndata: \(String(repeating: "x", count: 90))\n\n".utf8)
    }

    @Test func theStoreWakesEachReaderOnceUntilItReadsAndNeverHandsAnEventOutTwice() {
        let clock = ManualClock()
        let store = MemoryStreamStore(limits: StreamLimits(window: .seconds(60), maxBytes: 10_000, maxTotalBytes: 10_000), clock: clock)
        store.begin("s", credential: Self.alice, dialect: .openai)
        #expect(store.append("s", seq: 1, eventID: "1", bytes: Self.event(1)) == .kept)
        let wakes = Mutex(0)
        let reader = StreamReader(streamID: "s") { wakes.withLock { $0 += 1 } }
        let opened = Mutex<StreamTable.OpenAnswer?>(nil)
        store.open(reader, credential: Self.alice, lastEventID: nil) { answer in opened.withLock { $0 = answer } }
        #expect(opened.withLock { $0 } == .opened(cursor: 1, dialect: .openai, live: true))
        #expect(store.read(reader) == .events(Self.event(1), next: 2, ending: nil))
        _ = store.append("s", seq: 2, eventID: "2", bytes: Self.event(2))
        _ = store.append("s", seq: 3, eventID: "3", bytes: Self.event(3))
        #expect(wakes.withLock { $0 } == 1)
        #expect(store.read(reader) == .events(Self.event(2) + Self.event(3), next: 4, ending: nil))
        store.end("s", .complete)
        #expect(wakes.withLock { $0 } == 2)
        #expect(store.read(reader) == .events([], next: 4, ending: .complete))
        store.close(reader)
        #expect(store.keptBytes == (1...3).map { Self.event($0).count }.reduce(0, +))
        #expect(store.keptStreams == 1)
        clock.advance(by: .seconds(61))
        let late = StreamReader(streamID: "s") {}
        store.open(late, credential: Self.alice, lastEventID: "1") { answer in opened.withLock { $0 = answer } }
        #expect(opened.withLock { $0 } == .gone(.expired))
        #expect(store.keptBytes == 0)
    }
}
