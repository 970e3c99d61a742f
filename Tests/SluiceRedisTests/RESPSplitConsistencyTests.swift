@testable import SluiceRedis
import Testing

/// Mutated replies, valid or not, must get the same verdict however their bytes are split, and
/// never crash the parser: the same values followed by the same error, or the same values and the
/// same bytes left over. A parser that decides differently on a split would pair answers with the
/// wrong commands.
@Suite("RESP split consistency")
struct RESPSplitConsistencyTests {
    static let seeds: [String] = [
        "+OK\r\n:1\r\n$5\r\nhello\r\n",
        "*3\r\n:1\r\n$-1\r\n*2\r\n+a\r\n-ERR x\r\n",
        "-NOSCRIPT No matching script\r\n*2\r\n:0\r\n:1500\r\n",
    ]
    static let interesting: [UInt8] = [13, 10, 0x2D, 0x2B, 0x3A, 0x24, 0x2A, 0x30, 0x39, 0x20, 0x00, 0xFF]

    struct Verdict: Equatable {
        var values: [RESPValue]
        var error: RESPParseError?
        var leftOver: Int
    }

    static func verdict(_ bytes: [UInt8], pieces: [Int]) -> Verdict {
        var limits = RESPParser.Limits()
        limits.maxBulkLength = 64
        limits.maxArrayLength = 8
        var parser = RESPParser(limits: limits)
        var values: [RESPValue] = []
        var offset = 0
        for size in pieces + [bytes.count] where offset < bytes.count {
            let end = min(bytes.count, offset + max(1, size))
            parser.append(bytes[offset..<end])
            offset = end
            do {
                while let value = try parser.next() { values.append(value) }
            } catch let error as RESPParseError {
                return Verdict(values: values, error: error, leftOver: 0)
            } catch {
                Issue.record("unexpected error \(error)")
            }
        }
        return Verdict(values: values, error: nil, leftOver: parser.bufferedCount)
    }

    @Test func everySplitOfEveryMutationGivesTheSameVerdict() {
        var generator = SystemRandomNumberGenerator()
        var checked = 0
        for seed in Self.seeds {
            let original = Array(seed.utf8)
            for _ in 0..<300 {
                var bytes = original
                for _ in 0..<Int.random(in: 1...3, using: &generator) {
                    let at = Int.random(in: 0..<bytes.count, using: &generator)
                    switch Int.random(in: 0..<3, using: &generator) {
                    case 0: bytes[at] = Self.interesting.randomElement(using: &generator)!
                    case 1: bytes.insert(Self.interesting.randomElement(using: &generator)!, at: at)
                    default: if bytes.count > 1 { bytes.remove(at: at) }
                    }
                }
                let whole = Self.verdict(bytes, pieces: [])
                #expect(Self.verdict(bytes, pieces: Array(repeating: 1, count: bytes.count)) == whole, "\(bytes)")
                let cut = Int.random(in: 1...max(1, bytes.count), using: &generator)
                #expect(Self.verdict(bytes, pieces: [cut]) == whole, "\(bytes) cut at \(cut)")
                checked += 1
            }
        }
        #expect(checked == 900)
    }
}
