import SluiceHTTP
import Testing

/// The parsers must give identical results however the input is split: these tests replay one message in every
/// two-piece split, byte by byte, and in many random splits, and compare against the single-piece result.
@Suite("Incremental parsing")
struct IncrementalParsingTests {
    static let post = Array(
        ("\r\nPOST /v1/chat/completions?stream=true HTTP/1.1\r\nHost: api.example\r\nContent-Type: application/json\r\n"
            + "Content-Length: 27\r\nX-Long: " + String(repeating: "v", count: 40) + "\r\n\r\n"
            + "{\"model\":\"m\",\"stream\":true}").utf8)

    static let chunked = Array(
        ("POST /upload HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
            + "5;name=value\r\nhello\r\n"
            + "1A ; a=\"quoted;semi\" ;b\r\nabcdefghijklmnopqrstuvwxyz\r\n"
            + "0003\r\n!!!\r\n"
            + "0;last\r\nX-Checksum: abc\r\nX-Other:\tv \r\n\r\n").utf8)

    /// The reference result: the whole message in one piece.
    static func reference(_ bytes: [UInt8]) -> Transcript<HTTPRequestHead> {
        var parser = HTTPRequestParser()
        return feed(&parser, bytes)
    }

    static func expectSame(
        _ transcript: Transcript<HTTPRequestHead>, as reference: Transcript<HTTPRequestHead>,
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        #expect(transcript.error == nil, sourceLocation: sourceLocation)
        #expect(transcript.eventSummary.hasPrefix("head body"), sourceLocation: sourceLocation)
        #expect(transcript.eventSummary.hasSuffix("body end"), sourceLocation: sourceLocation)
        #expect(transcript.body == reference.body, sourceLocation: sourceLocation)
        #expect(transcript.consumed == reference.consumed, sourceLocation: sourceLocation)
        #expect(transcript.heads.count == 1, sourceLocation: sourceLocation)
        #expect(transcript.heads.first?.target == reference.heads.first?.target, sourceLocation: sourceLocation)
        #expect(transcript.heads.first?.headers == reference.heads.first?.headers, sourceLocation: sourceLocation)
    }

    @Test func referenceResultsAreAsExpected() throws {
        let post = Self.reference(Self.post)
        #expect(post.error == nil)
        #expect(post.eventSummary == "head body end")
        #expect(post.bodyText == "{\"model\":\"m\",\"stream\":true}")
        #expect(post.consumed == Self.post.count)
        #expect(post.heads.first?.headers.count == 4)

        let chunked = Self.reference(Self.chunked)
        #expect(chunked.error == nil)
        #expect(chunked.bodyText == "helloabcdefghijklmnopqrstuvwxyz!!!")
        #expect(chunked.consumed == Self.chunked.count)
    }

    @Test func contentLengthBodySplitAtEveryBoundary() {
        let reference = Self.reference(Self.post)
        for split in 1..<Self.post.count {
            var parser = HTTPRequestParser()
            let transcript = feed(&parser, Self.post, pieces: [split])
            Self.expectSame(transcript, as: reference)
        }
    }

    @Test func contentLengthBodyByteByByte() {
        var parser = HTTPRequestParser()
        let transcript = feed(&parser, Self.post, pieces: bytewise(Self.post.count))
        Self.expectSame(transcript, as: Self.reference(Self.post))
        #expect(transcript.eventSummary == "head body end")
    }

    @Test(arguments: 0..<64)
    func contentLengthBodyRandomSplits(seed: UInt64) {
        var parser = HTTPRequestParser()
        let transcript = feed(&parser, Self.post, pieces: randomPieces(Self.post.count, seed: seed))
        Self.expectSame(transcript, as: Self.reference(Self.post))
    }

    @Test func chunkedBodyByteByByte() {
        var parser = HTTPRequestParser()
        let transcript = feed(&parser, Self.chunked, pieces: bytewise(Self.chunked.count))
        Self.expectSame(transcript, as: Self.reference(Self.chunked))
        #expect(parser.framing == .chunked)
    }

    @Test func chunkedBodySplitAtEveryBoundary() {
        let reference = Self.reference(Self.chunked)
        for split in 1..<Self.chunked.count {
            var parser = HTTPRequestParser()
            Self.expectSame(feed(&parser, Self.chunked, pieces: [split]), as: reference)
        }
    }

    @Test(arguments: 0..<64)
    func chunkedBodyRandomSplits(seed: UInt64) {
        var parser = HTTPRequestParser()
        let transcript = feed(&parser, Self.chunked, pieces: randomPieces(Self.chunked.count, seed: seed, maxPiece: 9))
        Self.expectSame(transcript, as: Self.reference(Self.chunked))
    }

    @Test func errorsAreFoundWhateverTheSplit() {
        let raw = Array("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n".utf8)
        for split in 1..<raw.count {
            var parser = HTTPRequestParser()
            let transcript = feed(&parser, raw, pieces: [split])
            #expect(transcript.error?.status == 400)
            #expect(transcript.heads.isEmpty)
        }
        var parser = HTTPRequestParser()
        #expect(feed(&parser, raw, pieces: bytewise(raw.count)).error?.status == 400)
    }

    @Test func bareLFIsFoundAcrossPieces() {
        // The CR check for an LF must look at the previous piece.
        let raw = Array("GET / HTTP/1.1\r\nHost: h\n\r\n".utf8)
        for split in 1..<raw.count {
            var parser = HTTPRequestParser()
            #expect(feed(&parser, raw, pieces: [split]).error?.status == 400)
        }
    }
}
