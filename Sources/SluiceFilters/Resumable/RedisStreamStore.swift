import Logging
import SluiceFilterAPI
import Synchronization

/// The `ResumableStreamStore` of a `resumable` filter with `shared: true`: every stream is kept in
/// this process's `MemoryStreamStore` as without sharing, and copied to the `shared_state` Redis,
/// so that a resume landing on another instance finds it there.
///
/// - **Producing.** `begin`, `append`, `end` answer from the memory store, at once, and send their
///   copy to Redis without waiting for it (`RedisStreamScripts`, pipelined on the producing
///   worker's connection, so a stream's writes arrive in order). Redis down or slow never touches
///   the producing stream: its writes fail and are counted, and its copy is given up (a later
///   append finds the hole and marks it lost), so it resumes on its own instance only. While the
///   stream is live, a keep-alive every `keepAliveInterval` pushes its Redis TTL on and hears
///   whether a reader follows it through Redis (its detached upstream then runs on).
/// - **Resuming.** A resume the memory store answers (a stream this instance holds) is served from
///   memory, as without sharing. Any other (unknown here, or gone here) is looked up in Redis:
///   another credential or no such stream, 404 (or this instance's own 410 when it knew the stream);
///   gone there, 410; found, the events after `Last-Event-ID` fetched a page at a time, then the
///   live rest by polling every `pollInterval`. Polling, not `XREAD BLOCK`: a blocking read would
///   hold every other command behind it on the worker's one pipelined connection, and a connection
///   per follower would bypass that connection's TLS, authentication, cluster redirects, timeouts
///   and metrics; a poll is one small script call that answers at once, whose cost is bounded by
///   the followers and the interval. A resume Redis cannot answer gets 503 (`.unavailable`), under
///   every `on_failure` policy: nothing can be admitted without the events.
///
/// Keys: `PREFIX:resumable:CHAIN:NAME:{ID}` (the stream's hash) and `…:{ID}:events` (its Redis
/// Stream); the braces put both in one Redis Cluster slot, and spread streams over the slots. The
/// credential is in Redis only as its keyed hash (`SharedStore.clientKeyHash`).
///
/// Threading: as `ResumableStreamStore`. Redis calls and their completions run on the calling
/// worker's loop thread; a follower's state (`SharedStreamFollow`) is touched on its reader's.
public final class RedisStreamStore: ResumableStreamStore {
    /// Where this instance keeps its streams; carried over reloads.
    public let local: MemoryStreamStore
    private let shared: any SharedStore
    /// `PREFIX:resumable:CHAIN:NAME`.
    public let keyBase: String
    private let limits: Mutex<StreamLimits>
    private let metrics: ResumableMetrics.Shared?
    /// The streams produced here whose copy is being written, by id.
    private let mirrors = Mutex<[String: Mirror]>([:])
    private static let logger = Logger(label: "sluice.resumable")

    /// How often a follower asks Redis for more of a live stream.
    public static let pollInterval: Duration = .milliseconds(50)
    /// The most events, and bytes (after the first event), one fetch answers.
    static let pageEvents = 256
    static let pageBytes = 1 << 20
    /// Fetches in a row that may fail before a follower is told the stream cannot be read further.
    static let followFailureLimit = 10

    private struct Mirror {
        let worker: Int
        /// A write failed; logged once.
        var failed = false
    }

    /// A store keeping its streams in `local` and copying them through `shared` under `keyBase`.
    init(local: MemoryStreamStore, shared: any SharedStore, keyBase: String, limits: StreamLimits, metrics: ResumableMetrics.Shared?) {
        self.local = local
        self.shared = shared
        self.keyBase = keyBase
        self.limits = Mutex(limits)
        self.metrics = metrics
    }

    /// A store for tests of the store itself: no metrics.
    public convenience init(local: MemoryStreamStore, shared: any SharedStore, keyBase: String, limits: StreamLimits) {
        self.init(local: local, shared: shared, keyBase: keyBase, limits: limits, metrics: nil)
    }

    /// The keys of stream `id`: its hash, then its events.
    public func keys(_ id: String) -> [String] {
        let hash = "\(keyBase):{\(id)}"
        return [hash, hash + ":events"]
    }

    /// How often a live stream's copy is kept alive: a quarter of the window, so a reader on
    /// another instance is heard well before the window of a detached upstream ends.
    var keepAliveInterval: Duration {
        let quarter = limits.withLock { $0.window } / 4
        return min(max(quarter, .milliseconds(100)), .seconds(15))
    }

    private var windowMilliseconds: [UInt8] {
        Array(Self.milliseconds(limits.withLock { $0.window }).utf8)
    }

    public func apply(_ limits: StreamLimits) {
        local.apply(limits)
        self.limits.withLock { $0 = limits }
    }

    // MARK: - Producing

    public func begin(_ id: String, credential: String, dialect: StreamDialect, worker: Int) {
        local.begin(id, credential: credential, dialect: dialect, worker: worker)
        mirrors.withLock { $0[id] = Mirror(worker: worker) }
        write(RedisStreamScripts.begin, id, [Array(shared.clientKeyHash(credential).utf8), Array(dialect.rawValue.utf8), windowMilliseconds],
              worker: worker)
        keepAlive(id, worker: worker)
    }

    public func discard(_ id: String, worker: Int) {
        local.discard(id, worker: worker)
        guard mirrors.withLock({ $0.removeValue(forKey: id) }) != nil else { return }
        write(RedisStreamScripts.forget, id, [], worker: worker)
    }

    public func append(_ id: String, seq: Int, eventID: String, bytes: [UInt8], worker: Int) -> StreamTable.AppendAnswer {
        let answer = local.append(id, seq: seq, eventID: eventID, bytes: bytes, worker: worker)
        switch answer {
        case .kept:
            let maxBytes = limits.withLock { $0.maxBytes }
            write(RedisStreamScripts.append, id, [Array(String(seq).utf8), Array(eventID.utf8), bytes, windowMilliseconds,
                                                  Array(String(maxBytes).utf8)], worker: worker)
        case .overBudget:
            mirrorEnd(id, StreamTable.overBudgetEnding, worker: worker)
        case .lost(let loss):
            guard mirrors.withLock({ $0.removeValue(forKey: id) }) != nil else { break }
            write(RedisStreamScripts.lose, id, [Array(loss.rawValue.utf8), windowMilliseconds], worker: worker)
        }
        return answer
    }

    public func originLeft(_ id: String) -> Bool {
        local.originLeft(id)
    }

    public func detachedCheck(_ id: String) -> StreamTable.DetachedAnswer {
        local.detachedCheck(id)
    }

    public func end(_ id: String, _ ending: StreamEnding, worker: Int) {
        local.end(id, ending, worker: worker)
        mirrorEnd(id, ending, worker: worker)
    }

    /// Ends the copy of `id` once (later calls find no mirror).
    private func mirrorEnd(_ id: String, _ ending: StreamEnding, worker: Int) {
        guard mirrors.withLock({ $0.removeValue(forKey: id) }) != nil else { return }
        let (kind, why): (String, String)
        switch ending {
        case .complete: (kind, why) = ("complete", "")
        case .cut(let message): (kind, why) = ("cut", message)
        }
        write(RedisStreamScripts.end, id, [Array(kind.utf8), Array(why.utf8), windowMilliseconds], worker: worker)
    }

    /// Sends one write of stream `id`'s copy without waiting for it; counts how it went.
    private func write(_ script: SharedScript, _ id: String, _ arguments: [[UInt8]], worker: Int) {
        shared.evaluate(script, keys: keys(id), arguments: arguments, worker: worker) { [self] result in
            switch result {
            case .success(let reply):
                metrics?.writes[true]?.increment()
                if reply.integer == -1, script === RedisStreamScripts.append {
                    metrics?.incomplete.increment()
                    Self.logger.warning("a resumable stream's copy in Redis missed an event and was given up: it resumes on this instance only",
                                        metadata: ["stream_id": "\(id)"])
                }
            case .failure(let failure):
                metrics?.writes[false]?.increment()
                let first = mirrors.withLock { mirrors -> Bool in
                    guard mirrors[id]?.failed == false else { return false }
                    mirrors[id]?.failed = true
                    return true
                }
                if first {
                    Self.logger.warning("a resumable stream could not be copied to Redis: until Redis answers, it resumes on this instance only",
                                        metadata: ["stream_id": "\(id)", "error": "\(failure)"])
                }
            }
        }
    }

    /// While `id` is produced here, pushes its copy's TTL on every `keepAliveInterval`, and tells
    /// the memory store when a reader on another instance follows it.
    private func keepAlive(_ id: String, worker: Int) {
        let interval = keepAliveInterval
        shared.schedule(after: interval, worker: worker) { [weak self] in
            guard let self, self.mirrors.withLock({ $0[id] != nil }) else { return }
            self.shared.evaluate(RedisStreamScripts.touch, keys: self.keys(id), arguments: [self.windowMilliseconds], worker: worker) {
                [weak self] result in
                guard let self else { return }
                self.metrics?.writes[(try? result.get()) != nil]?.increment()
                // Followers fetch every `pollInterval`: one heard within two keep-alives still reads.
                if case .success(let reply) = result, let age = reply.integer, age >= 0, age <= Self.millisecondCount(interval * 2) {
                    self.local.readElsewhere(id)
                }
            }
            self.keepAlive(id, worker: worker)
        }
    }

    // MARK: - Resuming

    public func open(_ reader: StreamReader, credential: String, lastEventID: String?, worker: Int,
                     _ answer: @escaping @Sendable (StreamTable.OpenAnswer) -> Void) {
        // The memory store answers at once, on this thread.
        local.open(reader, credential: credential, lastEventID: lastEventID, worker: worker) { [self] here in
            switch here {
            case .opened, .unknownEventID, .unavailable:
                answer(here)
            case .notFound, .gone:
                openShared(reader, credential: credential, lastEventID: lastEventID, worker: worker, otherwise: here, answer)
            }
        }
    }

    /// Looks `reader`'s stream up in Redis; `otherwise` is what this instance knows when Redis
    /// knows nothing. Loop thread of `worker`.
    private func openShared(_ reader: StreamReader, credential: String, lastEventID: String?, worker: Int,
                            otherwise: StreamTable.OpenAnswer, _ answer: @escaping @Sendable (StreamTable.OpenAnswer) -> Void) {
        let keys = keys(reader.streamID)
        func unavailable(_ why: String) {
            metrics?.reads[false]?.increment()
            shared.policyApplied(shared.failurePolicy)
            answer(.unavailable(why))
        }
        let arguments: [[UInt8]] = [Array("open".utf8), Array(shared.clientKeyHash(credential).utf8), Array((lastEventID ?? "").utf8),
                                    Array(String(Self.pageEvents).utf8), Array(String(Self.pageBytes).utf8)]
        shared.evaluate(RedisStreamScripts.follow, keys: keys, arguments: arguments, worker: worker) { [self] result in
            let reply: SharedStreamReply
            switch result {
            case .success(let value):
                guard let read = SharedStreamReply(value) else { return unavailable("Redis answered the lookup with something unexpected") }
                reply = read
            case .failure(let failure):
                return unavailable(failure.description)
            }
            metrics?.reads[true]?.increment()
            switch reply {
            case .notFound:
                answer(otherwise)
            case .gone(let loss):
                answer(.gone(loss))
            case .unknownEventID:
                answer(.unknownEventID)
            case .page(let page):
                let follow = SharedStreamFollow(worker: worker, keys: keys, cursor: page.start)
                reader.follow = follow
                reader.cursor = page.start
                take(page, into: follow)
                metrics?.resumes.increment()
                answer(.opened(cursor: page.start, dialect: page.dialect, live: page.isLive))
                if !follow.isFinished { fetch(reader, after: Self.pollInterval) }
            }
        }

    }

    /// Adds `page` to what `follow` holds; answers whether the page was cut short (more is there now).
    @discardableResult
    private func take(_ page: SharedStreamReply.Page, into follow: SharedStreamFollow) -> Bool {
        for event in page.events { follow.buffer.append(contentsOf: event) }
        follow.cursor = page.next
        follow.ending = page.ending
        return page.next <= page.newest
    }

    /// Fetches what follows `reader`'s cursor after `delay`, wakes the reader when there is
    /// something for it, and goes on until the stream ended, was lost, or the reader closed.
    /// Loop thread of the reader's worker.
    private func fetch(_ reader: StreamReader, after delay: Duration) {
        guard let follow = reader.follow else { return }
        shared.schedule(after: delay, worker: follow.worker) { [weak self, weak reader] in
            guard let self, let reader, !reader.closed, !follow.isFinished else { return }
            // What was fetched last has not been read yet: ask again later rather than pile up.
            guard follow.buffer.isEmpty else { return self.fetch(reader, after: Self.pollInterval) }
            let arguments: [[UInt8]] = [Array("read".utf8), [], Array(String(follow.cursor).utf8),
                                        Array(String(Self.pageEvents).utf8), Array(String(Self.pageBytes).utf8)]
            self.shared.evaluate(RedisStreamScripts.follow, keys: follow.keys, arguments: arguments, worker: follow.worker) {
                [weak self, weak reader] result in
                guard let self, let reader, !reader.closed else { return }
                var more = false
                switch result.map(SharedStreamReply.init) {
                case .success(let reply?):
                    self.metrics?.reads[true]?.increment()
                    follow.failures = 0
                    switch reply {
                    case .page(let page): more = self.take(page, into: follow)
                    case .gone(let loss): follow.loss = loss
                    case .notFound, .unknownEventID: follow.loss = .expired
                    }
                case .success(nil), .failure:
                    self.metrics?.reads[false]?.increment()
                    follow.failures += 1
                    if follow.failures >= Self.followFailureLimit { follow.loss = .unavailable }
                }
                if !follow.buffer.isEmpty || follow.isFinished { self.wake(reader) }
                if !follow.isFinished { self.fetch(reader, after: more ? .zero : Self.pollInterval) }
            }
        }
    }

    private func wake(_ reader: StreamReader) {
        guard !reader.wakePending, !reader.closed else { return }
        reader.wakePending = true
        reader.wake()
    }

    public func read(_ reader: StreamReader) -> StreamTable.ReadAnswer {
        guard let follow = reader.follow else { return local.read(reader) }
        reader.wakePending = false
        guard !reader.closed else { return .lost(.expired) }
        if let loss = follow.loss { return .lost(loss) }
        let bytes = follow.buffer
        follow.buffer = []
        reader.cursor = follow.cursor
        return .events(bytes, next: follow.cursor, ending: follow.ending)
    }

    public func close(_ reader: StreamReader) {
        guard reader.follow != nil else { return local.close(reader) }
        reader.closed = true
    }

    /// Milliseconds as Redis scripts take them (at least 1).
    static func milliseconds(_ duration: Duration) -> String {
        String(millisecondCount(duration))
    }

    private static func millisecondCount(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        return max(1, seconds * 1000 + attoseconds / 1_000_000_000_000_000)
    }
}
