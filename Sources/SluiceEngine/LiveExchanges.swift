/// The exchanges a worker has in flight, in slots: each exchange keeps the number of its slot, so
/// adding and removing one is an array store, with no hashing. Loop thread only.
///
/// Why not a dictionary by identity: hashing the identity on the way in and out cost about 400
/// instructions of a short request's.
struct LiveExchanges {
    private var slots: [ProxyExchange?] = []
    /// Slots emptied, reused first so the array stays as long as the most exchanges ever in flight.
    private var free: [Int] = []
    private(set) var count = 0

    /// Puts `exchange` in a slot and tells it which (`liveSlot`).
    mutating func insert(_ exchange: ProxyExchange) {
        guard exchange.liveSlot < 0 else { return }
        let slot: Int
        if let reused = free.popLast() {
            slot = reused
            slots[slot] = exchange
        } else {
            slot = slots.count
            slots.append(exchange)
        }
        exchange.liveSlot = slot
        count += 1
    }

    /// Takes `exchange` out of its slot; nothing when it is not in one.
    mutating func remove(_ exchange: ProxyExchange) {
        let slot = exchange.liveSlot
        guard slot >= 0, slot < slots.count, slots[slot] === exchange else { return }
        slots[slot] = nil
        free.append(slot)
        exchange.liveSlot = -1
        count -= 1
    }

    /// The exchanges in flight, in no particular order: a copy, so the caller may end them while it walks.
    var all: [ProxyExchange] { slots.compactMap { $0 } }
}
