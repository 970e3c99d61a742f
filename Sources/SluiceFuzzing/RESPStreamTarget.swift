import SluiceRedis

/// `resp`: the bytes a Redis server sends on one connection, read by `RESPParser` under small limits, so
/// the limit checks are reachable.
///
/// Checks: the whole input, one byte at a time, and two sets of random cuts give the same values and
/// the same error; every value read, written back in RESP2, reads back as itself; and a value never
/// breaks the limits it was read under (array length, bulk length, depth).
enum RESPStreamTarget {
    static let target = FuzzTarget(
        name: "resp",
        summary: "RESPParser: whole, byte by byte and random splits agree; values round-trip and respect the limits"
    ) { input throws(FuzzFinding) in try check(input) }

    static let limits: RESPParser.Limits = {
        var limits = RESPParser.Limits()
        limits.maxBulkLength = 64
        limits.maxArrayLength = 8
        limits.maxDepth = 4
        limits.maxLineLength = 32
        return limits
    }()

    /// What one way of feeding the input produced.
    struct Reading: Equatable, CustomStringConvertible {
        var values: [RESPValue] = []
        var error: String?
        var description: String { "values: \(values), error: \(error ?? "none")" }
    }

    static func check(_ input: UnsafeRawBufferPointer) throws(FuzzFinding) {
        let whole = read(input, pieces: InputSplits.whole(input.count))
        try FuzzFinding.expectEqual(whole, read(input, pieces: InputSplits.bytewise(input.count)), "whole", "byte-by-byte")
        for variant in 1...2 as ClosedRange<UInt64> {
            try FuzzFinding.expectEqual(whole, read(input, pieces: InputSplits.random(input, variant: variant)),
                                        "whole", "random split \(variant)")
        }
        for value in whole.values {
            try checkLimits(value, depth: 1)
            var encoded: [UInt8] = []
            write(value, into: &encoded)
            let again = encoded.withUnsafeBytes { read($0, pieces: InputSplits.whole($0.count), limits: roundTripLimits) }
            try FuzzFinding.expectEqual(Reading(values: [value]), again, "a value", "the value written and read again")
        }
    }

    /// Simple strings and errors are read as text, so a byte that is not UTF-8 comes back as U+FFFD,
    /// three bytes: a line written again can be up to three times longer than the one read. The
    /// round trip reads under a line limit that allows for that; everything else stays as strict.
    static let roundTripLimits: RESPParser.Limits = {
        var wider = limits
        wider.maxLineLength = limits.maxLineLength * 3 + 2
        return wider
    }()

    private static func read(_ input: UnsafeRawBufferPointer, pieces: [Int],
                             limits: RESPParser.Limits = limits) -> Reading {
        var parser = RESPParser(limits: limits)
        var reading = Reading()
        InputSplits.forEachPiece(of: input, lengths: pieces) { piece in
            parser.append(piece)
            do {
                while let value = try parser.next() { reading.values.append(value) }
                return true
            } catch {
                reading.error = "\(error)"
                return false
            }
        }
        return reading
    }

    private static func checkLimits(_ value: RESPValue, depth: Int) throws(FuzzFinding) {
        switch value {
        case .bulk(let bytes) where bytes.count > limits.maxBulkLength:
            throw FuzzFinding("a bulk string over the limit was accepted", details: "\(bytes.count) bytes")
        case .array(let elements):
            if elements.count > limits.maxArrayLength || depth > limits.maxDepth {
                throw FuzzFinding("an array over the limits was accepted", details: "\(elements.count) elements at depth \(depth)")
            }
            for element in elements { try checkLimits(element, depth: depth + 1) }
        default:
            break
        }
    }

    /// RESP2 as a server writes it.
    private static func write(_ value: RESPValue, into out: inout [UInt8]) {
        func line(_ type: Character, _ text: String) {
            out.append(contentsOf: Array("\(type)\(text)\r\n".utf8))
        }
        switch value {
        case .simple(let text): line("+", text)
        case .error(let text): line("-", text)
        case .integer(let n): line(":", String(n))
        case .null: line("$", "-1")
        case .bulk(let bytes):
            line("$", String(bytes.count))
            out.append(contentsOf: bytes)
            out.append(contentsOf: [13, 10])
        case .array(let elements):
            line("*", String(elements.count))
            for element in elements { write(element, into: &out) }
        }
    }
}
