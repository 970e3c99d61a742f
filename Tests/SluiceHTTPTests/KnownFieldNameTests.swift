@testable import SluiceHTTP
import Testing

/// `KnownFieldName(_:)` recognises a name exactly when it equals a known one ignoring ASCII case,
/// and the word-at-a-time scans of `ByteSearch` answer as their byte-by-byte definitions.
@Suite("KnownFieldName")
struct KnownFieldNameTests {
    private static func known(_ bytes: [UInt8]) -> KnownFieldName? {
        bytes.withUnsafeBytes { KnownFieldName($0) }
    }

    private static func lowercase(_ name: KnownFieldName) -> [UInt8] {
        Array(UnsafeRawBufferPointer(start: name.name.utf8Start, count: name.name.utf8CodeUnitCount))
    }

    @Test func recognisesEveryNameInAnyCase() {
        for name in KnownFieldName.allCases {
            let lower = Self.lowercase(name)
            #expect(Self.known(lower) == name)
            #expect(Self.known(lower.map { $0 >= 0x61 && $0 <= 0x7A ? $0 - 0x20 : $0 }) == name)
            // Every other letter upper.
            let mixed = lower.enumerated().map { $0.offset % 2 == 0 && $0.element >= 0x61 ? $0.element - 0x20 : $0.element }
            #expect(Self.known(mixed) == name)
        }
    }

    @Test func refusesEveryNearMiss() {
        for name in KnownFieldName.allCases {
            let lower = Self.lowercase(name)
            #expect(Self.known(Array(lower.dropLast())) == nil)
            #expect(Self.known(lower + [UInt8(ascii: "s")]) == nil)
            for position in lower.indices {
                // The bytes that differ from the wanted one only in the case bit, or are a neighbour of it.
                let wanted = lower[position]
                for replacement: UInt8 in [wanted ^ 0x20, wanted &+ 1, wanted &- 1, wanted ^ 0x40, wanted | 0x80, 0x0D, 0x5F, 0] {
                    guard ASCII.lowercased(replacement) != wanted else { continue }
                    var changed = lower
                    changed[position] = replacement
                    #expect(Self.known(changed) == nil, "\(name) with \(replacement) at \(position)")
                }
            }
        }
    }

    @Test func lookupsByKnownNameFindWhatLookupsByStringFind() {
        var headers: HTTPHeaders = ["Content-LENGTH": "5", "X-Other": "a", "connection": "close"]
        headers.add("HOST", "example")
        #expect(headers[.contentLength] == "5")
        #expect(headers["content-length"] == "5")
        #expect(headers.integerValue(.contentLength) == 5)
        #expect(headers[.host] == "example")
        #expect(headers.containsToken("close", in: .connection))
        #expect(!headers.contains(.transferEncoding))
        headers.remove(.connection)
        #expect(!headers.contains("Connection"))
        #expect(headers.values(.host) == ["example"])
    }

    @Test func lineBreakScanMatchesItsDefinition() {
        for length in 0..<40 {
            let clean = [UInt8](repeating: UInt8(ascii: "a"), count: length)
            #expect(!clean.withUnsafeBytes { ByteSearch.containsLineBreak($0) })
            for position in 0..<length {
                for byte: UInt8 in [0x0D, 0x0A, 0] {
                    var bytes = clean
                    bytes[position] = byte
                    #expect(bytes.withUnsafeBytes { ByteSearch.containsLineBreak($0) })
                }
                for byte: UInt8 in [0x0C, 0x0E, 0x0B, 0x09, 0x01, 0x8D, 0x8A, 0x80, 0x2D] {
                    var bytes = clean
                    bytes[position] = byte
                    #expect(!bytes.withUnsafeBytes { ByteSearch.containsLineBreak($0) })
                }
            }
        }
    }

    @Test func requestLineScanMatchesItsDefinition() {
        for length in 0..<40 {
            let clean = [UInt8](repeating: UInt8(ascii: "/"), count: length)
            #expect(!clean.withUnsafeBytes { ByteSearch.containsSpaceControlOrDelete($0) })
            for position in 0..<length {
                for byte in UInt8.min...UInt8.max {
                    var bytes = clean
                    bytes[position] = byte
                    let expected = byte <= 0x20 || byte == 0x7F
                    #expect(bytes.withUnsafeBytes { ByteSearch.containsSpaceControlOrDelete($0) } == expected)
                }
            }
        }
    }
}

/// The word-at-a-time token scan answers as `ASCII.isTokenChar` byte by byte.
@Suite("ByteSearch.endOfToken")
struct EndOfTokenTests {
    @Test func stopsAtTheFirstNonTokenByteWhereverItIs() {
        for length in 0..<30 {
            let name = (0..<length).map { i -> UInt8 in
                let alphabet = Array("Ab-9zZ_.!x".utf8)
                return alphabet[i % alphabet.count]
            }
            for byte in UInt8.min...UInt8.max {
                for position in 0...length {
                    var bytes = name
                    bytes.insert(byte, at: position)
                    let expected = bytes.firstIndex { !ASCII.isTokenChar($0) } ?? bytes.count
                    let found = bytes.withUnsafeBytes { ByteSearch.endOfToken(in: $0, from: 0, to: $0.count) }
                    #expect(found == expected, "\(byte) at \(position) of \(length)")
                }
            }
        }
    }
}

/// The word-at-a-time request-target scan answers as its byte-by-byte definition.
@Suite("ByteSearch.firstNotVisibleASCII")
struct FirstNotVisibleASCIITests {
    @Test func findsTheFirstByteOutsideVisibleASCII() {
        for length in 0..<20 {
            let target = [UInt8](repeating: UInt8(ascii: "a"), count: length)
            for byte in UInt8.min...UInt8.max {
                for position in 0...length {
                    var bytes = target
                    bytes.insert(byte, at: position)
                    let expected = bytes.firstIndex { $0 <= 0x20 || $0 >= 0x7F } ?? bytes.count
                    let found = bytes.withUnsafeBytes { ByteSearch.firstNotVisibleASCII(in: $0, from: 0, to: $0.count) }
                    #expect(found == expected, "\(byte) at \(position) of \(length)")
                }
            }
        }
    }
}
