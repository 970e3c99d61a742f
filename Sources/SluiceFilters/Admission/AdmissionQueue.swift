import SluiceFilterAPI

/// The priority class of a queued request, highest first.
public enum AdmissionPriority: String, Sendable, CaseIterable, Comparable {
    case high, normal, low

    /// 0 for `high`, the most urgent.
    var rank: Int {
        switch self {
        case .high: return 0
        case .normal: return 1
        case .low: return 2
        }
    }

    public static func < (a: Self, b: Self) -> Bool { a.rank < b.rank }

    /// Reads a header value: `high`, `normal` or `low` in any case; anything else (or nothing) is `normal`.
    public init(headerValue: String?) {
        var text = Substring(headerValue ?? "")
        while text.first == " " || text.first == "\t" { text.removeFirst() }
        while text.last == " " || text.last == "\t" { text.removeLast() }
        self = AdmissionPriority(rawValue: text.lowercased()) ?? .normal
    }
}

/// The waiting line of the admission filter. Pure: no threads, no I/O; time comes in as arguments.
///
/// - Order: a higher priority class always goes first. Within a class, keys (clients) take turns
///   round-robin — the key whose turn it is gives up its oldest entry and goes to the back of the
///   rotation — so a key with many entries does not make the others wait behind all of them.
///   A key new to a class joins at the back of its rotation.
/// - Bounds: at most `limits.maxLength` entries in all, and at most `limits.maxPerKey` per key
///   (over every class): a key over its share is refused even when the queue has room.
/// - Deadlines: each entry must be admitted by `enqueued + limits.maxWait`; `removeExpired`
///   takes out those whose deadline has passed. Changing `limits` affects later entries only.
///
/// `Payload` is whatever the caller needs to wake an entry (the filter keeps the exchange).
/// Not thread-safe; the filter keeps it behind its mutex.
public struct AdmissionQueue<Payload> {
    public typealias Ticket = UInt64

    public struct Limits: Sendable, Equatable {
        /// Entries in all; 0 means nothing queues.
        public var maxLength: Int
        /// Entries of one key, over all classes.
        public var maxPerKey: Int
        public var maxWait: Duration

        public init(maxLength: Int, maxPerKey: Int, maxWait: Duration) {
            self.maxLength = maxLength
            self.maxPerKey = maxPerKey
            self.maxWait = maxWait
        }
    }

    public struct Entry {
        public let ticket: Ticket
        public let key: String
        public let priority: AdmissionPriority
        public let enqueued: MonotonicInstant
        public let deadline: MonotonicInstant
        public let payload: Payload
    }

    /// Why `enqueue` refused an entry.
    public enum Refusal: Sendable, Equatable {
        /// The queue holds `maxLength` entries.
        case full
        /// The key holds `maxPerKey` entries.
        case keyShareFull
    }

    /// One priority class: a FIFO per key and the keys' turn order.
    private struct PriorityClass {
        var fifos: [String: [Ticket]] = [:]
        /// Keys with entries, the one whose turn it is first.
        var rotation: [String] = []

        var isEmpty: Bool { rotation.isEmpty }
    }

    public var limits: Limits
    private var classes = Array(repeating: PriorityClass(), count: AdmissionPriority.allCases.count)
    private var entries: [Ticket: Entry] = [:]
    private var perKey: [String: Int] = [:]

    public init(limits: Limits) {
        self.limits = limits
    }

    public var count: Int { entries.count }
    public var isEmpty: Bool { entries.isEmpty }

    public func contains(_ ticket: Ticket) -> Bool { entries[ticket] != nil }

    /// Entries of `key`, over all classes.
    public func count(forKey key: String) -> Int { perKey[key] ?? 0 }

    /// When the entry that has waited longest was queued, or nil when none waits. O(entries).
    public var oldestEnqueued: MonotonicInstant? { entries.values.map(\.enqueued).min() }

    /// Queues an entry with the deadline `now + limits.maxWait`, or says why not. `ticket` must
    /// not be queued already.
    public mutating func enqueue(
        _ ticket: Ticket, key: String, priority: AdmissionPriority, payload: Payload, now: MonotonicInstant
    ) -> Refusal? {
        precondition(entries[ticket] == nil, "ticket \(ticket) is queued already")
        if entries.count >= limits.maxLength { return .full }
        if count(forKey: key) >= limits.maxPerKey { return .keyShareFull }
        entries[ticket] = Entry(ticket: ticket, key: key, priority: priority, enqueued: now,
                                deadline: now + limits.maxWait, payload: payload)
        perKey[key, default: 0] += 1
        let c = priority.rank
        if classes[c].fifos[key] == nil {
            classes[c].fifos[key] = [ticket]
            classes[c].rotation.append(key)
        } else {
            classes[c].fifos[key]!.append(ticket)
        }
        return nil
    }

    /// The entry that `popNext` would take.
    public func peekNext() -> Entry? {
        guard let c = classes.firstIndex(where: { !$0.isEmpty }) else { return nil }
        let key = classes[c].rotation[0]
        return classes[c].fifos[key].flatMap { $0.first }.flatMap { entries[$0] }
    }

    /// Takes the next entry to admit: from the highest non-empty class, the oldest entry of the key
    /// whose turn it is; that key then goes to the back of the rotation.
    public mutating func popNext() -> Entry? {
        guard let c = classes.firstIndex(where: { !$0.isEmpty }) else { return nil }
        let key = classes[c].rotation.removeFirst()
        let ticket = classes[c].fifos[key]!.removeFirst()
        if classes[c].fifos[key]!.isEmpty {
            classes[c].fifos[key] = nil
        } else {
            classes[c].rotation.append(key)
        }
        return forget(ticket)
    }

    /// Takes the entry out wherever it is; nil when it is not queued.
    @discardableResult
    public mutating func remove(_ ticket: Ticket) -> Entry? {
        guard let entry = entries[ticket] else { return nil }
        let c = entry.priority.rank
        classes[c].fifos[entry.key]?.removeAll { $0 == ticket }
        if classes[c].fifos[entry.key]?.isEmpty == true {
            classes[c].fifos[entry.key] = nil
            classes[c].rotation.removeAll { $0 == entry.key }
        }
        return forget(ticket)
    }

    /// Takes out every entry whose deadline is at or before `now`, oldest deadline first.
    public mutating func removeExpired(now: MonotonicInstant) -> [Entry] {
        let due = entries.values.filter { $0.deadline <= now }.sorted { ($0.deadline, $0.ticket) < ($1.deadline, $1.ticket) }
        return due.compactMap { remove($0.ticket) }
    }

    /// The earliest deadline in the queue.
    public var nextDeadline: MonotonicInstant? { entries.values.map(\.deadline).min() }

    /// Where the entry stands in the admission order if nothing else arrives: 1 is next. Nil when
    /// it is not queued. O(keys in its class).
    public func position(of ticket: Ticket) -> Int? {
        guard let entry = entries[ticket] else { return nil }
        let c = entry.priority.rank
        var ahead = 0
        for higher in 0..<c {
            for fifo in classes[higher].fifos.values { ahead += fifo.count }
        }
        // Within the class, round r (0-based) takes the r-th entry of every key that has one, in
        // rotation order: before the entry go the first `index` entries of every key and, in its
        // own round, the keys before its key that still have an entry then.
        let cls = classes[c]
        guard let index = cls.fifos[entry.key]?.firstIndex(of: ticket) else { return nil }
        for key in cls.rotation {
            let n = cls.fifos[key]?.count ?? 0
            if key == entry.key {
                ahead += index
                break
            }
            ahead += min(n, index + 1)
        }
        for key in cls.rotation.drop(while: { $0 != entry.key }).dropFirst() {
            ahead += min(cls.fifos[key]?.count ?? 0, index)
        }
        return ahead + 1
    }

    /// Every queued ticket in the order `popNext` would take them.
    public var admissionOrder: [Ticket] {
        var copy = self
        var order: [Ticket] = []
        order.reserveCapacity(count)
        while let next = copy.popNext() { order.append(next.ticket) }
        return order
    }

    private mutating func forget(_ ticket: Ticket) -> Entry? {
        guard let entry = entries.removeValue(forKey: ticket) else { return nil }
        let left = (perKey[entry.key] ?? 1) - 1
        perKey[entry.key] = left > 0 ? left : nil
        return entry
    }
}

extension AdmissionQueue: Sendable where Payload: Sendable {}
extension AdmissionQueue.Entry: Sendable where Payload: Sendable {}
