@testable import SluiceFuzzing
import SluiceHTTP
import Testing

/// The checks the targets make must be able to fail: each is shown a broken answer and must object.
@Suite("Fuzz target oracles")
struct TargetOracleTests {
    @Test func aBareCRInAnAcceptedHeadIsAFinding() {
        // What the request parser accepted as a whole head before the smuggling fix: up to the bare CR.
        let head = Array("POST /a HTTP/1.1\r\nHost: x\r\n\r".utf8) + [0x58]
        _ = head.withUnsafeBytes { bytes in
            #expect(throws: FuzzFinding.self) {
                try HeadLineEndings.check(bytes, from: 0, to: bytes.count, what: "request")
            }
        }
        let clean = Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8)
        clean.withUnsafeBytes { bytes in
            #expect(throws: Never.self) { try HeadLineEndings.check(bytes, from: 0, to: bytes.count, what: "request") }
        }
    }

    @Test func splitsCoverTheInputAndRepeat() {
        let input = Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8) + Array(repeating: 0x61, count: 300)
        input.withUnsafeBytes { bytes in
            let first = InputSplits.random(bytes, variant: 1)
            #expect(first.reduce(0, +) == bytes.count)
            #expect(first.allSatisfy { (1...64).contains($0) })
            #expect(first == InputSplits.random(bytes, variant: 1))
            #expect(first != InputSplits.random(bytes, variant: 2))
        }
    }

    @Test func transcriptsThatDifferAreAFinding() {
        var a = MessageTranscript()
        a.ending = "error 400"
        var b = MessageTranscript()
        b.ending = "error 414"
        #expect(throws: FuzzFinding.self) { try FuzzFinding.expectEqual(a, b, "whole", "byte-by-byte") }
    }

    @Test func theSmugglingShapeIsOneRefusedRequest() throws {
        let input = Array("POST /a HTTP/1.1\r\nHost: x\r\n\rX: y\r\nContent-Length: 35\r\n\r\nGET /SMUGGLED HTTP/1.1\r\nHost: x\r\n\r\n".utf8)
        let transcript = try input.withUnsafeBytes { bytes in
            try MessageTranscriber.transcript(
                HTTPRequestParser(), bytes, pieces: InputSplits.whole(bytes.count), headRequest: false)
        }
        #expect(transcript.messages.isEmpty)
        #expect(transcript.ending == "error 400")
    }

    @Test func theReferenceJSONParserReadsWhatRFC8259Says() {
        func parse(_ text: String) -> ReferenceJSONParser.Outcome {
            Array(text.utf8).withUnsafeBytes { ReferenceJSONParser.parse($0) }
        }
        #expect(parse(#"{"a":[1.0,"\ud83d\ude00",null]}"#) == .value(.object([
            .init(key: "a", value: .array([.number(text: "1.0", integer: 1), .string("😀"), .null]))])))
        #expect(parse("[01]") == .invalid)
        #expect(parse("[1,]") == .invalid)
        #expect(parse(#"["\ud800"]"#) == .value(.array([.string("\u{FFFD}")])))
        #expect(parse(String(repeating: "[", count: 70) + String(repeating: "]", count: 70)) == .tooDeep)
    }

    @Test func anErrorOutsideTheTextIsAFinding() {
        let lines = TextLines("a: 1\r\nbb: 2\n")
        #expect(lines.count == 3)
        #expect(lines.contains(line: 2, column: 6))
        #expect(!lines.contains(line: 2, column: 7))
        #expect(!lines.contains(line: 4, column: 1))
        #expect(!lines.contains(line: 1, column: 0))
    }
}
