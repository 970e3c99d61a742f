import SluiceFilterAPI
import Synchronization

/// The in-process `ResumableStreamStore`: a `StreamTable` behind a lock, the readers of each
/// stream, and the gauges of what is kept. Shared by every worker of one filter instance and
/// carried over reloads. Any thread; the lock is held for table work only, never while a reader
/// is woken or an exchange is touched.
public final class MemoryStreamStore: ResumableStreamStore {
    private struct State: ~Copyable {
        var table: StreamTable
        var readers: [String: [StreamReader]] = [:]
    }

    private let state: Mutex<State>
    private let clock: any SluiceClock
    private let metrics: ResumableMetrics?

    /// An empty store under `limits`, reading time from `clock`; `metrics` nil in unit tests.
    init(limits: StreamLimits, clock: any SluiceClock, metrics: ResumableMetrics?) {
        state = Mutex(State(table: StreamTable(limits: limits)))
        self.clock = clock
        self.metrics = metrics
    }

    /// An empty store for tests of the store itself: no metrics.
    public convenience init(limits: StreamLimits, clock: any SluiceClock) {
        self.init(limits: limits, clock: clock, metrics: nil)
    }

    /// Bytes kept in all (what `sluice_resumable_kept_bytes` shows).
    public var keptBytes: Int { state.withLock { $0.table.totalBytes } }
    /// Streams kept (what `sluice_resumable_kept_streams` shows).
    public var keptStreams: Int { state.withLock { $0.table.streamCount } }

    public func apply(_ limits: StreamLimits) {
        state.withLock { $0.table.limits = limits }
    }

    public func begin(_ id: String, credential: String, dialect: StreamDialect, worker: Int = 0) {
        let now = clock.now()
        let digest = CredentialDigest(of: credential)
        changing { $0.table.begin(id, credential: digest, dialect: dialect, now: now); return [] }
    }

    public func discard(_ id: String, worker: Int = 0) {
        changing { $0.table.discard(id); return [] }
    }

    public func append(_ id: String, seq: Int, eventID: String, bytes: [UInt8], worker: Int = 0) -> StreamTable.AppendAnswer {
        let now = clock.now()
        var answer = StreamTable.AppendAnswer.kept
        changing { s in
            answer = s.table.append(id, seq: seq, eventID: eventID, bytes: bytes, now: now)
            return [id]
        }
        return answer
    }

    public func originLeft(_ id: String) -> Bool {
        let now = clock.now()
        var kept = false
        changing { s in
            kept = s.table.originLeft(id, now: now)
            return []
        }
        return kept
    }

    public func detachedCheck(_ id: String) -> StreamTable.DetachedAnswer {
        let now = clock.now()
        var answer = StreamTable.DetachedAnswer.cancel
        changing { s in
            answer = s.table.detachedCheck(id, now: now)
            return []
        }
        return answer
    }

    public func end(_ id: String, _ ending: StreamEnding, worker: Int = 0) {
        let now = clock.now()
        changing { s in
            s.table.end(id, ending, now: now)
            return [id]
        }
    }

    public func open(_ reader: StreamReader, credential: String, lastEventID: String?, worker: Int = 0,
                     _ answer: @escaping @Sendable (StreamTable.OpenAnswer) -> Void) {
        let now = clock.now()
        let digest = CredentialDigest(of: credential)
        var opened = StreamTable.OpenAnswer.notFound
        changing { s in
            opened = s.table.open(reader.streamID, credential: digest, lastEventID: lastEventID, now: now)
            if case .opened(let cursor, _, let live) = opened {
                reader.cursor = cursor
                reader.counted = live
                s.readers[reader.streamID, default: []].append(reader)
            }
            return []
        }
        answer(opened)
    }

    /// A reader on another instance follows `id` (a shared store heard of it): see
    /// `StreamTable.readElsewhere`.
    public func readElsewhere(_ id: String) {
        let now = clock.now()
        changing { $0.table.readElsewhere(id, now: now); return [] }
    }

    public func read(_ reader: StreamReader) -> StreamTable.ReadAnswer {
        state.withLock { s -> StreamTable.ReadAnswer in
            reader.wakePending = false
            guard !reader.closed else { return .lost(.expired) }
            let found = s.table.read(reader.streamID, from: reader.cursor)
            if case .events(_, let next, _) = found { reader.cursor = next }
            return found
        }
    }

    public func close(_ reader: StreamReader) {
        let now = clock.now()
        changing { s in
            guard !reader.closed else { return [] }
            reader.closed = true
            s.readers[reader.streamID]?.removeAll { $0 === reader }
            if s.readers[reader.streamID]?.isEmpty == true { s.readers[reader.streamID] = nil }
            if reader.counted { s.table.readerLeft(reader.streamID, now: now) }
            return []
        }
    }

    /// Runs `change` under the lock; it answers the streams whose readers should hear of it. Then,
    /// still under the lock, updates the gauges and gathers the readers of those streams and of
    /// streams the change lost; out of it, wakes them and counts the losses.
    private func changing(_ change: (inout State) -> [String]) {
        let (toWake, losses) = state.withLock { s -> ([StreamReader], [StreamLoss]) in
            var touched = change(&s)
            let lost = s.table.takeLosses()
            touched += lost.map(\.id)
            var wake: [StreamReader] = []
            for id in touched {
                for reader in s.readers[id] ?? [] where !reader.wakePending && !reader.closed {
                    reader.wakePending = true
                    wake.append(reader)
                }
            }
            metrics?.keptBytes.record(s.table.totalBytes)
            metrics?.keptStreams.record(s.table.streamCount)
            return (wake, lost.map(\.loss))
        }
        for reader in toWake { reader.wake() }
        for loss in losses { metrics?.lost[loss]?.increment() }
    }
}
