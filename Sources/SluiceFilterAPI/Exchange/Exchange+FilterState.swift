extension Exchange {
    /// `filter`'s state for this exchange, made by `filter.makeState(for:)` on the first call and
    /// the same object on every later one (see `StatefulFilter`). Loop thread only. After the
    /// exchange ended, a fresh state that is not kept.
    @inlinable
    public func state<F: StatefulFilter>(for filter: F) -> F.ExchangeState {
        let slot = filter.stateSlot
        if let state = filterStates.state(at: slot.index, of: slot) { return unsafeDowncast(state, to: F.ExchangeState.self) }
        return makeState(for: filter, slot)
    }

    /// `filter`'s state for this exchange if `state(for:)` made one, else nil (and nil once the
    /// exchange ended). Loop thread only.
    @inlinable
    public func existingState<F: StatefulFilter>(for filter: F) -> F.ExchangeState? {
        let slot = filter.stateSlot
        if let state = filterStates.state(at: slot.index, of: slot) ?? filterStates.searched(slot) {
            return unsafeDowncast(state, to: F.ExchangeState.self)
        }
        return nil
    }

    @usableFromInline @inline(never)
    func makeState<F: StatefulFilter>(for filter: F, _ slot: ExchangeStateSlot) -> F.ExchangeState {
        if let state = filterStates.searched(slot) { return unsafeDowncast(state, to: F.ExchangeState.self) }
        let made = filter.makeState(for: self)
        filterStates.keep(made, of: slot)
        return made
    }

    /// Drops every filter's state, after the filters' `onComplete`; later `state(for:)` calls get a
    /// state that is not kept. The engine's ending (and `EmbeddedExchange`'s) calls it.
    package func releaseFilterStates() {
        filterStates.release()
    }
}

/// The states of an exchange's `StatefulFilter`s. The first eight indices a chain gives its
/// stateful filters (`ExchangeStateSlot`) have a place inside the exchange itself: keeping a state
/// allocates nothing besides the state, finding it is a switch, and the exchange's end releases
/// the places in one assignment (the list of states these places replace cost an allocation, and
/// about a thousand instructions, per request). A state whose filter has no index (it is outside
/// any chain), an index past the places, or whose place holds another chain's filter's state, goes
/// into a short list searched by slot.
@usableFromInline
struct FilterStates {
    /// One place: the slot of the filter whose state it holds, and the state; both nil while free.
    @usableFromInline
    struct Entry {
        @usableFromInline var slot: ObjectIdentifier?
        @usableFromInline var state: AnyObject?

        @usableFromInline init(slot: ObjectIdentifier? = nil, state: AnyObject? = nil) {
            self.slot = slot
            self.state = state
        }
    }

    @usableFromInline var places: (Entry, Entry, Entry, Entry, Entry, Entry, Entry, Entry) =
        (Entry(), Entry(), Entry(), Entry(), Entry(), Entry(), Entry(), Entry())
    private var unindexed: [Entry] = []
    private var released = false

    @usableFromInline init() {}

    // The two lookups below change nothing, but are `mutating` so that the exchange hands them
    // its states in place: a non-mutating call on the exchange's member reads a copy of the
    // struct, which retains and releases every state in it.

    /// The state kept at `index` for `slot`, if the place there is that slot's.
    @inlinable
    mutating func state(at index: Int, of slot: ExchangeStateSlot) -> AnyObject? {
        let key = ObjectIdentifier(slot)
        switch index {
        case 0: return places.0.slot == key ? places.0.state : nil
        case 1: return places.1.slot == key ? places.1.state : nil
        case 2: return places.2.slot == key ? places.2.state : nil
        case 3: return places.3.slot == key ? places.3.state : nil
        case 4: return places.4.slot == key ? places.4.state : nil
        case 5: return places.5.slot == key ? places.5.state : nil
        case 6: return places.6.slot == key ? places.6.state : nil
        case 7: return places.7.slot == key ? places.7.state : nil
        default: return nil
        }
    }

    /// The state kept for `slot` outside its place, if any.
    @usableFromInline
    mutating func searched(_ slot: ExchangeStateSlot) -> AnyObject? {
        guard !unindexed.isEmpty else { return nil }
        let key = ObjectIdentifier(slot)
        for entry in unindexed where entry.slot == key { return entry.state }
        return nil
    }

    /// Keeps `state` for `slot`: in its place when it has a free one, else in the searched list.
    /// Nothing is kept once the states were released.
    mutating func keep(_ state: AnyObject, of slot: ExchangeStateSlot) {
        guard !released else { return }
        let entry = Entry(slot: ObjectIdentifier(slot), state: state)
        switch slot.index {
        case 0 where places.0.slot == nil: places.0 = entry
        case 1 where places.1.slot == nil: places.1 = entry
        case 2 where places.2.slot == nil: places.2 = entry
        case 3 where places.3.slot == nil: places.3 = entry
        case 4 where places.4.slot == nil: places.4 = entry
        case 5 where places.5.slot == nil: places.5 = entry
        case 6 where places.6.slot == nil: places.6 = entry
        case 7 where places.7.slot == nil: places.7 = entry
        default: unindexed.append(entry)
        }
    }

    mutating func release() {
        released = true
        places = (Entry(), Entry(), Entry(), Entry(), Entry(), Entry(), Entry(), Entry())
        if !unindexed.isEmpty { unindexed = [] }
    }
}
