/// The ways a differential target cuts one input into pieces, as a network would deliver it: whole,
/// one byte at a time, and at pseudo-random points.
///
/// The random cuts come from a generator seeded with a hash of the input itself, so they are the
/// same on every run of the same input: a finding reproduces from its file.
enum InputSplits {
    /// Piece lengths for a whole delivery: one piece (none for an empty input).
    static func whole(_ count: Int) -> [Int] { count == 0 ? [] : [count] }

    /// Piece lengths for a byte-at-a-time delivery.
    static func bytewise(_ count: Int) -> [Int] { Array(repeating: 1, count: count) }

    /// Piece lengths that sum to `count`, cut at points chosen by `variant` and the input's hash.
    /// Pieces are 1 to 64 bytes, with a bias to very short ones where parsers keep state.
    static func random(_ input: UnsafeRawBufferPointer, variant: UInt64) -> [Int] {
        var generator = SplitMix(seed: fnv1a(input) ^ (variant &* 0x9E37_79B9_7F4A_7C15))
        var pieces: [Int] = []
        var left = input.count
        while left > 0 {
            let roll = generator.next()
            let limit = roll & 3 == 0 ? 64 : 4
            let piece = min(left, Int((roll >> 8) % UInt64(limit)) + 1)
            pieces.append(piece)
            left -= piece
        }
        return pieces
    }

    /// Calls `body` with consecutive slices of `input` of the given lengths.
    static func forEachPiece(
        of input: UnsafeRawBufferPointer, lengths: [Int], _ body: (UnsafeRawBufferPointer) -> Bool
    ) {
        var start = 0
        for length in lengths {
            guard body(UnsafeRawBufferPointer(rebasing: input[start..<(start + length)])) else { return }
            start += length
        }
    }

    private static func fnv1a(_ input: UnsafeRawBufferPointer) -> UInt64 {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in input {
            hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3
        }
        return hash
    }
}

/// SplitMix64: a small, fast generator; enough for choosing cut points.
struct SplitMix {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
