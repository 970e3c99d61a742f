/// The string values of one JSON text whose content a walk did not depend on, in the order they
/// appear: the strings it skipped, and the strings it read only to tell whether they are empty.
///
/// A `JSONByteReader` given a log (`holes`) notes them as it goes. Two texts whose bytes agree
/// outside these strings, and whose strings here are well formed, are walked the same way, step
/// for step; that is what `LLMEventShape` builds on. Positions are the content's, between the
/// quotes. Holds at most `capacity` holes: a text with more is marked `overflowed`, and a shape is
/// not kept for it.
package struct JSONStringHoles {
    /// What the walk did with a string.
    package enum Use: UInt8 {
        /// Skipped: its content did not matter.
        case skipped
        /// Read only for whether it is empty.
        case presence
    }

    package struct Hole {
        /// Where the content starts (just past the opening quote).
        package var start: Int32
        /// Where it ends: the index of the closing quote.
        package var end: Int32
        package var use: Use
    }

    /// How many holes are kept before `overflowed` is set.
    package static let capacity = 16

    package private(set) var holes: [Hole] = []
    /// More than `capacity` holes were noted, or one out of order: `holes` does not describe the text.
    package private(set) var overflowed = false

    package init() {}

    /// Notes one string. Out of order or past the capacity, marks the log `overflowed` instead.
    @inline(always)
    package mutating func note(start: Int, end: Int, use: Use) {
        guard holes.count < Self.capacity, start >= (holes.last.map { Int($0.end) + 1 } ?? 0),
              end < Int(Int32.max) else {
            overflowed = true
            return
        }
        holes.append(Hole(start: Int32(truncatingIfNeeded: start), end: Int32(truncatingIfNeeded: end), use: use))
    }

    /// Forgets every hole, keeping the storage.
    package mutating func removeAll() {
        holes.removeAll(keepingCapacity: true)
        overflowed = false
    }
}
