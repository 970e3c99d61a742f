@testable import SluiceHTTP
import Testing

/// The word-at-a-time scans must agree with a plain byte loop for every position of the interesting byte,
/// including the tail after the last whole word and words holding several candidates.
@Suite("Byte search")
struct ByteSearchTests {
    private func naiveForbidden(_ bytes: [UInt8], from start: Int) -> Int {
        var index = start
        while index < bytes.count && !((bytes[index] < 0x20 && bytes[index] != 0x09) || bytes[index] == 0x7F) {
            index += 1
        }
        return index
    }

    @Test func forbiddenByteAtEveryPosition() {
        let fillers: [UInt8] = [0x61, 0x09, 0x20, 0xC3, 0xFF, 0x80, 0x7E]
        let forbidden: [UInt8] = [0x00, 0x01, 0x08, 0x0A, 0x0D, 0x1F, 0x7F]
        var generator = SplitMix64(seed: 1)
        for length in 0...33 {
            for position in 0...length {
                for bad in forbidden {
                    var bytes = (0..<length).map { _ in fillers.randomElement(using: &generator)! }
                    if position < length { bytes[position] = bad }
                    for start in [0, 1, 3] where start <= length {
                        let found = bytes.withUnsafeBytes {
                            ByteSearch.firstForbiddenInFieldValue(in: $0, from: start, to: length)
                        }
                        #expect(found == naiveForbidden(bytes, from: start), "\(bytes) from \(start)")
                    }
                }
            }
        }
    }

    @Test func tabsAndObsTextAreAllowed() {
        let bytes: [UInt8] = [0x09, 0x09, 0x80, 0xFF, 0x09, 0x41, 0x09, 0x09, 0x09, 0xA0, 0x09]
        let found = bytes.withUnsafeBytes { ByteSearch.firstForbiddenInFieldValue(in: $0, from: 0, to: bytes.count) }
        #expect(found == bytes.count)
    }

    @Test func firstIndexAtEveryPosition() {
        for length in 0...33 {
            for position in 0...length {
                var bytes = [UInt8](repeating: 0x0D, count: length)
                if position < length { bytes[position] = 0x0A }
                // A second match later must not win.
                if position + 3 < length { bytes[position + 3] = 0x0A }
                let found = bytes.withUnsafeBytes { ByteSearch.firstIndex(of: 0x0A, in: $0, from: 0, to: length) }
                #expect(found == position)
            }
        }
    }

    @Test func tokenCharacters() {
        let tokens = Set("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ".utf8)
        for byte in UInt8.min...UInt8.max {
            #expect(ASCII.isTokenChar(byte) == tokens.contains(byte), "byte \(byte)")
        }
    }
}
