import SluiceFilterAPI

/// The breakers of one `circuit_breaker` table, by endpoint id (`EndpointCandidate.id`), each with
/// the state it last published on `/metrics`. Not thread-safe: the table keeps it behind its lock.
///
/// A table holds the few endpoints of its groups, so an id is found by comparing it with each
/// entry's: the candidates' ids share their storage with the entries' (both come from the chain's
/// endpoints), which makes a comparison a word compare, where hashing an id of 30 bytes cost about
/// 400 instructions per lookup, several per request (`PositionsByID`).
struct BreakerList {
    struct Entry {
        var breaker = CircuitBreaker()
        /// The `sluice_circuit_breaker_state` value last published for this endpoint; nil before the first.
        var published: Int?
    }

    private var positions = PositionsByID()
    private(set) var entries: [Entry] = []

    /// The endpoint id of the entry at `position`.
    func id(at position: Int) -> String { positions.ids[position] }

    /// Where `id`'s entry is, if it has one.
    func position(of id: String) -> Int? { positions.position(of: id) }

    /// Where `id`'s entry is, made (closed) when it had none.
    mutating func position(adding id: String) -> Int {
        let (position, added) = positions.position(adding: id)
        if added { entries.append(Entry()) }
        return position
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
