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

/// The states of an exchange's `StatefulFilter`s: at their slot's index when the chain gave them
/// one, else (a filter outside any chain, or in a second one) in a short list searched by slot.
@usableFromInline
struct FilterStates {
    @usableFromInline
    struct Entry {
        @usableFromInline let slot: ObjectIdentifier
        @usableFromInline let state: AnyObject
    }

    @usableFromInline var indexed: [Entry?] = []
    private var unindexed: [Entry] = []
    private var released = false

    @usableFromInline init() {}

    /// The state kept at `index` for `slot`, if the entry there is that slot's.
    @inlinable
    func state(at index: Int, of slot: ExchangeStateSlot) -> AnyObject? {
        guard index >= 0, index < indexed.count, let entry = indexed[index], entry.slot == ObjectIdentifier(slot) else { return nil }
        return entry.state
    }

    /// The state kept for `slot` outside its index, if any.
    @usableFromInline
    func searched(_ slot: ExchangeStateSlot) -> AnyObject? {
        let key = ObjectIdentifier(slot)
        for entry in unindexed where entry.slot == key { return entry.state }
        return nil
    }

    /// Keeps `state` for `slot`: at its index when that place is free, else in the searched list.
    /// Nothing is kept once the states were released.
    mutating func keep(_ state: AnyObject, of slot: ExchangeStateSlot) {
        guard !released else { return }
        let entry = Entry(slot: ObjectIdentifier(slot), state: state)
        let index = slot.index
        guard index >= 0 else { return unindexed.append(entry) }
        if index >= indexed.count {
            // Room for a chain's stateful filters at once (a chain has a handful): growing one slot
            // at a time, through the generic append of a repeated nil, cost about 500 instructions
            // per state made.
            if indexed.isEmpty { indexed.reserveCapacity(Swift.max(8, index + 1)) }
            while indexed.count <= index { indexed.append(nil) }
        }
        if indexed[index] == nil {
            indexed[index] = entry
        } else {
            unindexed.append(entry)
        }
    }

    mutating func release() {
        released = true
        indexed = []
        unindexed = []
    }
}
