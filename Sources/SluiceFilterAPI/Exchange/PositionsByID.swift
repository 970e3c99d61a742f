/// Where each of a short list's entries is, by the entry's `String` id: found by comparing ids while
/// the list is short, by an index kept once it passes `linearLimit`. The ids looked up come from the
/// chain's endpoints, whose storage the stored ids share, so a comparison is a word compare where
/// hashing an id of 30 bytes cost about 400 instructions, several times per request. The owner
/// keeps its entries in a parallel array and appends one exactly when `position(adding:)` answers a
/// new position. Not thread-safe: the owner's lock or loop thread guards it.
package struct PositionsByID: Sendable {
    package static let linearLimit = 16

    /// The ids, by position.
    package private(set) var ids: [String] = []
    /// Positions by id, kept once there are more than `linearLimit` ids.
    private var index: [String: Int] = [:]

    package init() {}

    /// Where `id` is, if it is known.
    @inlinable
    package func position(of id: String) -> Int? {
        if ids.count > Self.linearLimit { return indexed(id) }
        return ids.firstIndex(of: id)
    }

    /// Where `id` is, and whether it was added now (the owner then appends its entry).
    package mutating func position(adding id: String) -> (position: Int, added: Bool) {
        if let existing = position(of: id) { return (existing, false) }
        ids.append(id)
        if ids.count > Self.linearLimit {
            if index.isEmpty {
                for (position, known) in ids.enumerated() { index[known] = position }
            } else {
                index[id] = ids.count - 1
            }
        }
        return (ids.count - 1, true)
    }

    @usableFromInline
    func indexed(_ id: String) -> Int? { index[id] }
}
