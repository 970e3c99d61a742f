/// The breakers of one `circuit_breaker` table, by endpoint id (`EndpointCandidate.id`), each with
/// the state it last published on `/metrics`. Not thread-safe: the table keeps it behind its lock.
///
/// A table holds the few endpoints of its groups, so an id is found by comparing it with each
/// entry's: the candidates' ids share their storage with the entries' (both come from the chain's
/// endpoints), which makes a comparison a word compare, where hashing an id of 30 bytes cost about
/// 400 instructions per lookup, several per request. Past `linearLimit` entries an index is kept.
struct BreakerList {
    struct Entry {
        let id: String
        var breaker = CircuitBreaker()
        /// The `sluice_circuit_breaker_state` value last published for this endpoint; nil before the first.
        var published: Int?
    }

    static let linearLimit = 16

    private(set) var entries: [Entry] = []
    /// Positions by id, kept once there are more than `linearLimit` entries.
    private var index: [String: Int] = [:]

    /// Where `id`'s entry is, if it has one.
    func position(of id: String) -> Int? {
        if entries.count > Self.linearLimit { return index[id] }
        return entries.firstIndex { $0.id == id }
    }

    /// Where `id`'s entry is, made (closed) when it had none.
    mutating func position(adding id: String) -> Int {
        if let existing = position(of: id) { return existing }
        entries.append(Entry(id: id))
        if entries.count > Self.linearLimit {
            if index.isEmpty {
                for (position, entry) in entries.enumerated() { index[entry.id] = position }
            } else {
                index[id] = entries.count - 1
            }
        }
        return entries.count - 1
    }

    /// The breaker at `position` (from `position(of:)` or `position(adding:)`).
    subscript(position: Int) -> CircuitBreaker {
        get { entries[position].breaker }
        _modify { yield &entries[position].breaker }
    }

    /// Records that `value` is now published for the entry at `position`; false when it already was.
    mutating func publish(_ value: Int, at position: Int) -> Bool {
        guard entries[position].published != value else { return false }
        entries[position].published = value
        return true
    }
}
