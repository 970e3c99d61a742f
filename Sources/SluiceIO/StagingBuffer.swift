/// Bytes a socket holds in passing: what it collects during one loop turn before they go out in one
/// write (see `BufferEvent.write`), and what its owner left unconsumed of what was read (see
/// `BufferEvent.consumeInput`). A growable block of raw memory: appending is a copy and emptying
/// resets a count, where an `Array` paid a generic `append(contentsOf:)` and `replaceSubrange` per
/// piece and per turn, on every forwarded event. Owned by one `BufferEvent`; loop thread only.
struct StagingBuffer: ~Copyable {
    /// Storage kept across turns up to this size; a larger block, grown by one big write, is
    /// freed once emptied so an idle connection does not hold it.
    static let keptCapacity = 4096

    private var base: UnsafeMutableRawPointer?
    private var capacity = 0
    /// Bytes staged.
    private(set) var count = 0

    init() {}

    deinit { base?.deallocate() }

    var isEmpty: Bool { count == 0 }

    /// Appends `bytes` after what is staged.
    mutating func append(_ bytes: UnsafeRawBufferPointer) {
        guard let source = bytes.baseAddress, bytes.count > 0 else { return }
        if count + bytes.count > capacity { grow(toHold: count + bytes.count) }
        (base! + count).copyMemory(from: source, byteCount: bytes.count)
        count += bytes.count
    }

    /// Calls `body` with the staged bytes (valid only during the call).
    func withBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeRawBufferPointer(start: base, count: count))
    }

    /// Forgets the first `count` bytes (all of them when `count` reaches the end).
    mutating func removeFirst(_ used: Int) {
        guard used > 0 else { return }
        if used >= count {
            removeAll()
            return
        }
        (base!).copyMemory(from: base! + used, byteCount: count - used)
        count -= used
    }

    /// Forgets the staged bytes; keeps the storage unless it outgrew `keptCapacity`.
    mutating func removeAll() {
        count = 0
        if capacity > Self.keptCapacity {
            base?.deallocate()
            base = nil
            capacity = 0
        }
    }

    private mutating func grow(toHold needed: Int) {
        var newCapacity = max(capacity * 2, 256)
        while newCapacity < needed { newCapacity *= 2 }
        let grown = UnsafeMutableRawPointer.allocate(byteCount: newCapacity, alignment: 16)
        if let base {
            grown.copyMemory(from: base, byteCount: count)
            base.deallocate()
        }
        base = grown
        capacity = newCapacity
    }
}
