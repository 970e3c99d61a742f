import SluiceFilterAPI

/// One SSE event of a kept stream, in the bytes its client got.
struct KeptEvent: Sendable {
    /// Position in the stream: 1, 2, 3, … with no gaps.
    let seq: Int
    /// Its `id:` (the upstream's own, or the sequence number the filter gave it).
    let id: String
    /// The event in wire form, `id:` line included.
    let bytes: [UInt8]
}

/// One stream in a `StreamTable`: its events (the newest, up to the stream's budget), who may read
/// it, who reads it, and how and when it ended. A value; the table owns it.
struct KeptStream: Sendable {
    let credential: CredentialDigest
    let dialect: StreamDialect
    /// Kept events, oldest first, from `head` on (events before `head` were dropped and are
    /// compacted away from time to time).
    private(set) var events: [KeptEvent] = []
    private(set) var head = 0
    /// Bytes of the kept events.
    private(set) var bytes = 0
    /// The sequence number of the newest event appended (0: none yet).
    private(set) var lastSeq = 0
    /// True while the client that started the stream is still connected to it.
    var originAttached = true
    /// Who reads the stream live: its client while attached, and resumers that joined it live.
    var readers = 1
    /// How it ended; nil while the upstream still sends.
    var ending: StreamEnding?
    var endedAt: MonotonicInstant?
    /// When the stream stops being kept; nil while it is live and read.
    var expiresAt: MonotonicInstant?

    init(credential: CredentialDigest, dialect: StreamDialect) {
        self.credential = credential
        self.dialect = dialect
    }

    /// The sequence number of the oldest kept event (`lastSeq + 1` when none is kept).
    var firstSeq: Int { head < events.count ? events[head].seq : lastSeq + 1 }
    /// Events dropped from the front to stay under the stream's budget.
    var dropped: Int { firstSeq - 1 }
    var isLive: Bool { ending == nil }

    mutating func append(_ event: KeptEvent) {
        events.append(event)
        bytes += event.bytes.count
        lastSeq = event.seq
    }

    /// The id of the newest dropped event: a resume after it starts at the oldest kept one.
    private(set) var lastDroppedID: String?

    /// Drops the oldest kept event; answers its size.
    mutating func dropOldest() -> Int {
        let size = events[head].bytes.count
        lastDroppedID = events[head].id
        bytes -= size
        head += 1
        if head >= 64 && head * 2 >= events.count {
            events.removeFirst(head)
            head = 0
        }
        return size
    }

    /// The sequence number right after the newest kept event whose id is `id` (or the oldest kept
    /// one, when `id` is the newest dropped event's); nil when no kept event has it.
    func cursor(after id: String) -> Int? {
        var i = events.count - 1
        while i >= head {
            if events[i].id == id { return events[i].seq + 1 }
            i -= 1
        }
        return id == lastDroppedID ? firstSeq : nil
    }

    /// The wire bytes of the kept events from sequence number `cursor` on; nil when `cursor` is
    /// before the oldest kept event.
    func bytes(from cursor: Int) -> [UInt8]? {
        guard cursor >= firstSeq else { return nil }
        var out: [UInt8] = []
        var i = head + (cursor - firstSeq)
        guard i < events.count else { return out }
        out.reserveCapacity(events[i...].reduce(0) { $0 + $1.bytes.count })
        while i < events.count {
            out.append(contentsOf: events[i].bytes)
            i += 1
        }
        return out
    }
}
