import SluiceFilterAPI

/// Every resumable stream one filter keeps, and the rules for keeping them: per-stream budget,
/// global cap, expiry, credential binding, and what a resume may read.
///
/// Pure: no clock, no lock, no I/O. Every call that depends on time takes it. `MemoryStreamStore`
/// puts it behind a lock and tells readers what changed; a test drives it directly.
///
/// Expiry: a stream is kept while it is live and read (by its client, or by resumers following
/// it). Once it ended, or once nobody reads it, it is kept for `window` more, then it is gone;
/// a live stream whose deadline passed is gone too (its upstream is cancelled by the filter). A
/// gone stream leaves a tombstone for a while, so a late resume hears 410 ("gone"), not 404.
public struct StreamTable: Sendable {
    /// The limits; a reload may change them (they apply from the next call).
    public var limits: StreamLimits
    /// Bytes of every kept event of every stream.
    public private(set) var totalBytes = 0
    /// Streams kept, live and ended.
    public var streamCount: Int { streams.count }
    /// Streams lost since the last `takeLosses()`, with why: the store wakes their readers and
    /// counts them.
    private var losses: [(id: String, loss: StreamLoss)] = []

    private var streams: [String: KeptStream] = [:]
    private var tombstones: [String: Tombstone] = [:]
    /// Tombstone ids, oldest first, from `tombstoneHead` on.
    private var tombstoneOrder: [String] = []
    private var tombstoneHead = 0
    private var lastSweep: MonotonicInstant?

    /// How many gone streams are remembered, and for how long.
    public static let tombstoneLimit = 10_000
    public static let tombstoneLife: Duration = .seconds(3_600)
    /// Full sweeps for expired streams run at most this often (each lookup checks its own stream).
    public static let sweepInterval: Duration = .seconds(1)

    private struct Tombstone: Sendable {
        let credential: CredentialDigest
        let loss: StreamLoss
        let at: MonotonicInstant
    }

    /// How a stream ends when its detached upstream outgrew `max_bytes` (`AppendAnswer.overBudget`).
    public static let overBudgetEnding = StreamEnding.cut("the stream was cancelled: it reached max_bytes while its client was away")

    /// What `append` did with an event.
    public enum AppendAnswer: Sendable, Equatable {
        /// Kept (older events of the stream may have been dropped to make room).
        case kept
        /// Not kept: the stream's client left and the stream reached `max_bytes`. The stream
        /// ended (cut) here; its upstream must be cancelled.
        case overBudget
        /// The stream is not kept any more (now or before): its events are gone.
        case lost(StreamLoss)
    }

    /// What `open` found.
    public enum OpenAnswer: Sendable, Equatable {
        /// No such stream for this credential (or none at all): 404.
        case notFound
        /// The stream, or the part asked for, is gone: 410.
        case gone(StreamLoss)
        /// The stream is kept whole but has no event with that id: 400.
        case unknownEventID
        /// Read from sequence number `cursor` on. A live stream counts the reader until `readerLeft`.
        case opened(cursor: Int, dialect: StreamDialect, live: Bool)
        /// Never answered by the table: a shared store could not ask its server (why, for the
        /// log). Nothing is known of the stream: 503.
        case unavailable(String)
    }

    /// What `read` found.
    public enum ReadAnswer: Sendable, Equatable {
        /// The events from the cursor on (possibly none), the cursor after them, and the ending
        /// once every event was read and the stream ended.
        case events([UInt8], next: Int, ending: StreamEnding?)
        /// The stream (or the part from the cursor) is not kept any more.
        case lost(StreamLoss)
    }

    /// What a detached upstream should do now (`detachedCheck`).
    public enum DetachedAnswer: Sendable, Equatable {
        /// Run on; ask again after this long.
        case runOn(after: Duration)
        /// Cancel it: nobody read the stream for `window`, or it is not kept any more.
        case cancel
    }

    public init(limits: StreamLimits) {
        self.limits = limits
    }

    // MARK: - The producing exchange

    /// A new live stream, read by its client.
    public mutating func begin(_ id: String, credential: CredentialDigest, dialect: StreamDialect, now: MonotonicInstant) {
        sweepIfDue(now)
        streams[id] = KeptStream(credential: credential, dialect: dialect)
    }

    /// Forgets a stream nobody was told about (its attempt was retried before the head went out):
    /// no tombstone.
    public mutating func discard(_ id: String) {
        guard let stream = streams.removeValue(forKey: id) else { return }
        totalBytes -= stream.bytes
    }

    /// Keeps event number `seq` (the stream's next) with `eventID` and its wire `bytes`.
    ///
    /// While the stream's client is attached, the oldest events of the stream make room under
    /// `max_bytes`; once it left, nothing is dropped (it resumes from where it was) and an event
    /// over `max_bytes` ends the stream (`overBudget`). Under `max_total_bytes`, ended streams are
    /// dropped oldest first; when that is not enough, this stream is lost (`memory_cap`).
    public mutating func append(_ id: String, seq: Int, eventID: String, bytes: [UInt8], now: MonotonicInstant) -> AppendAnswer {
        sweepIfDue(now)
        guard var stream = streams[id] else { return .lost(tombstones[id]?.loss ?? .expired) }
        guard stream.isLive else { return .lost(.expired) }
        if let deadline = stream.expiresAt, deadline <= now {
            lose(id, .expired, now: now)
            return .lost(.expired)
        }
        let size = bytes.count
        guard size <= limits.maxBytes, seq == stream.lastSeq + 1 else {
            lose(id, .tooLarge, now: now)
            return .lost(.tooLarge)
        }
        if stream.bytes + size > limits.maxBytes {
            if !stream.originAttached {
                end(id, Self.overBudgetEnding, now: now)
                return .overBudget
            }
            while stream.bytes + size > limits.maxBytes { totalBytes -= stream.dropOldest() }
        }
        streams[id] = stream
        if totalBytes + size > limits.maxTotalBytes {
            evictEndedStreams(toFit: size, now: now)
            if totalBytes + size > limits.maxTotalBytes {
                lose(id, .memoryCap, now: now)
                return .lost(.memoryCap)
            }
        }
        streams[id]!.append(KeptEvent(seq: seq, id: eventID, bytes: bytes))
        totalBytes += size
        return .kept
    }

    /// The stream's client left and its upstream runs on. Answers false when the stream is not
    /// kept or not live: the upstream should be cancelled as usual.
    public mutating func originLeft(_ id: String, now: MonotonicInstant) -> Bool {
        guard var stream = streams[id], stream.isLive, stream.originAttached else { return false }
        stream.originAttached = false
        stream.readers -= 1
        if stream.readers == 0 { stream.expiresAt = now + limits.window }
        streams[id] = stream
        return true
    }

    /// The stream ended (the producing exchange ended, however). It is kept for `window` from now,
    /// or until an earlier deadline it already had.
    public mutating func end(_ id: String, _ ending: StreamEnding, now: MonotonicInstant) {
        guard var stream = streams[id], stream.isLive else { return }
        stream.ending = ending
        stream.endedAt = now
        stream.originAttached = false
        stream.expiresAt = min(stream.expiresAt ?? now + limits.window, now + limits.window)
        streams[id] = stream
    }

    /// Whether a detached upstream runs on: it does while someone reads the stream, or until
    /// `window` after the last reader left.
    public mutating func detachedCheck(_ id: String, now: MonotonicInstant) -> DetachedAnswer {
        guard let stream = streams[id], stream.isLive else { return .cancel }
        guard let deadline = stream.expiresAt else { return .runOn(after: limits.window) }
        if deadline <= now {
            lose(id, .expired, now: now)
            return .cancel
        }
        return .runOn(after: deadline.since(now))
    }

    // MARK: - Resumes

    /// A resume of stream `id` by a client with `credential`, after the event `lastEventID` (from
    /// the start when nil). Never answers a partial replay: a start that is not kept is `gone`.
    public mutating func open(_ id: String, credential: CredentialDigest, lastEventID: String?, now: MonotonicInstant) -> OpenAnswer {
        sweepIfDue(now)
        guard var stream = streams[id] else {
            if let tombstone = tombstones[id], tombstone.credential == credential { return .gone(tombstone.loss) }
            return .notFound
        }
        guard stream.credential == credential else { return .notFound }
        if let deadline = stream.expiresAt, deadline <= now {
            lose(id, .expired, now: now)
            return .gone(.expired)
        }
        let cursor: Int
        if let lastEventID {
            guard let found = stream.cursor(after: lastEventID) else {
                return stream.dropped > 0 ? .gone(.outOfWindow) : .unknownEventID
            }
            cursor = found
        } else {
            guard stream.dropped == 0 else { return .gone(.outOfWindow) }
            cursor = 1
        }
        if stream.isLive {
            stream.readers += 1
            stream.expiresAt = nil
            streams[id] = stream
        }
        return .opened(cursor: cursor, dialect: stream.dialect, live: stream.isLive)
    }

    /// The kept events of `id` from `cursor` on.
    public func read(_ id: String, from cursor: Int) -> ReadAnswer {
        guard let stream = streams[id] else { return .lost(tombstones[id]?.loss ?? .expired) }
        guard let bytes = stream.bytes(from: cursor) else { return .lost(.outOfWindow) }
        return .events(bytes, next: stream.lastSeq + 1, ending: stream.ending)
    }

    /// A resumer that `open` counted (it joined the stream live) left. When nobody reads a live
    /// stream any more, its `window` starts.
    public mutating func readerLeft(_ id: String, now: MonotonicInstant) {
        guard var stream = streams[id], stream.isLive else { return }
        stream.readers -= 1
        if stream.readers <= 0 {
            stream.readers = 0
            stream.expiresAt = now + limits.window
        }
        streams[id] = stream
    }

    /// A reader on another instance follows the stream (through a shared store): a live stream
    /// nobody reads here is kept, and its detached upstream runs on, for `window` from now.
    public mutating func readElsewhere(_ id: String, now: MonotonicInstant) {
        guard var stream = streams[id], stream.isLive, stream.readers == 0 else { return }
        // A deadline that passed stands: the stream is lost at the next look, as without the reader.
        if let deadline = stream.expiresAt, deadline <= now { return }
        stream.expiresAt = now + limits.window
        streams[id] = stream
    }

    // MARK: - Expiry and memory

    /// Drops every stream whose deadline passed, and old tombstones. Runs by itself at most every
    /// `sweepInterval` from the other calls; a test may call it.
    public mutating func sweep(now: MonotonicInstant) {
        lastSweep = now
        for (id, stream) in streams {
            if let deadline = stream.expiresAt, deadline <= now { lose(id, .expired, now: now) }
        }
        while tombstoneHead < tombstoneOrder.count {
            let id = tombstoneOrder[tombstoneHead]
            guard let tombstone = tombstones[id] else { tombstoneHead += 1; continue }
            guard now.since(tombstone.at) >= Self.tombstoneLife || tombstones.count > Self.tombstoneLimit else { break }
            tombstones[id] = nil
            tombstoneHead += 1
        }
        if tombstoneHead >= 1024, tombstoneHead * 2 >= tombstoneOrder.count {
            tombstoneOrder.removeFirst(tombstoneHead)
            tombstoneHead = 0
        }
    }

    /// The streams lost since the last call, and why.
    public mutating func takeLosses() -> [(id: String, loss: StreamLoss)] {
        guard !losses.isEmpty else { return [] }
        defer { losses = [] }
        return losses
    }

    private mutating func sweepIfDue(_ now: MonotonicInstant) {
        if let lastSweep, now.since(lastSweep) < Self.sweepInterval { return }
        sweep(now: now)
    }

    /// Drops ended streams, the one that ended first first, until `size` more bytes fit.
    private mutating func evictEndedStreams(toFit size: Int, now: MonotonicInstant) {
        while totalBytes + size > limits.maxTotalBytes {
            var oldest: (id: String, at: MonotonicInstant)?
            for (id, stream) in streams {
                guard let at = stream.endedAt, stream.bytes > 0 else { continue }
                if oldest == nil || at < oldest!.at { oldest = (id, at) }
            }
            guard let oldest else { return }
            lose(oldest.id, .evicted, now: now)
        }
    }

    private mutating func lose(_ id: String, _ loss: StreamLoss, now: MonotonicInstant) {
        guard let stream = streams.removeValue(forKey: id) else { return }
        totalBytes -= stream.bytes
        tombstones[id] = Tombstone(credential: stream.credential, loss: loss, at: now)
        tombstoneOrder.append(id)
        losses.append((id, loss))
    }
}
