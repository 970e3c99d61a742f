/// The streams holding a slot, in all and per client key, and the rule that admits a new one.
///
/// Pure bookkeeping: no clock, no lock, no I/O. `ConnectionManagerFilter` keeps one behind a
/// `Mutex` and shares it with the instance that replaces it on a reload. The limits are not part
/// of the table but of each `acquire` call, because two chain versions with different limits may
/// count into one table while the old version's streams finish.
///
/// Invariants: `active` is the sum of the per-key counts; no key is kept with a count of zero, so
/// the table holds at most one entry per stream in flight and nothing for clients that left.
public struct ConnectionSlots: Sendable, Equatable {
    /// The limits one `acquire` checks; nil means no limit of that kind.
    public struct Limits: Sendable, Equatable {
        /// Streams in all.
        public var global: Int?
        /// Streams of one client key.
        public var perClient: Int?

        public init(global: Int? = nil, perClient: Int? = nil) {
            self.global = global
            self.perClient = perClient
        }
    }

    /// What `acquire` decided.
    public enum Admission: Sendable, Equatable {
        /// A slot was taken; `release` must give it back exactly once.
        case admitted
        /// The client key already holds `perClient` slots; nothing was taken.
        case clientFull
        /// `global` slots are taken in all; nothing was taken.
        case globalFull
    }

    /// Slots held in all.
    public private(set) var active = 0
    private var perKey: [String: Int] = [:]

    public init() {}

    /// Client keys holding at least one slot.
    public var clientCount: Int { perKey.count }

    /// Slots held by `key`.
    public func active(for key: String) -> Int { perKey[key] ?? 0 }

    /// Takes a slot for `key` unless that would exceed a limit. The per-client limit is checked
    /// first: a client over its own share is told so (429) even while the proxy is also full.
    /// A limit already exceeded (it was lowered by a reload) admits nothing until enough slots
    /// are released to go below it.
    public mutating func acquire(_ key: String, within limits: Limits) -> Admission {
        let globalFull = limits.global.map { active >= $0 } ?? false
        // One lookup for the check and the take (each lookup hashes the key): the count is checked
        // and changed in place, in an entry the lookup makes for a key that held nothing.
        let answer = Self.take(&perKey[key, default: 0], perClient: limits.perClient, globalFull: globalFull)
        if answer == .admitted {
            active += 1
        } else if let index = perKey.index(forKey: key), perKey.values[index] == 0 {
            // Refused: a key that held nothing keeps no entry.
            perKey.remove(at: index)
        }
        return answer
    }

    /// Adds one to `held` unless a limit refuses, the per-client limit first.
    private static func take(_ held: inout Int, perClient: Int?, globalFull: Bool) -> Admission {
        if let perClient, held >= perClient { return .clientFull }
        if globalFull { return .globalFull }
        held += 1
        return .admitted
    }

    /// Gives back a slot `key` holds. Returns false, changing nothing, when `key` holds none: counts
    /// never go below zero, whatever a caller does wrong.
    @discardableResult
    public mutating func release(_ key: String) -> Bool {
        // One lookup: the entry is changed or removed through its index.
        guard let index = perKey.index(forKey: key) else { return false }
        if perKey.values[index] <= 1 {
            perKey.remove(at: index)
        } else {
            perKey.values[index] -= 1
        }
        active -= 1
        return true
    }
}
