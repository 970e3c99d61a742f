import SluiceHTTP
import Testing

/// A chunked request body for the given chunked text (size lines, data, trailers).
private func chunkedRequest(_ body: String) -> String {
    "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n" + body
}

@Suite("Chunked decoding")
struct ChunkedDecodingTests {
    @Test func decodesChunksAndDropsTrailers() {
        let body = "4\r\nWiki\r\n6;ext=1;other=\"x y\"\r\npedia \r\nE\r\nin \r\n\r\nchunks.\r\n0\r\nExpires: never\r\nX-Sum: 1\r\n\r\n"
        let transcript = parseRequest(chunkedRequest(body))
        #expect(transcript.error == nil)
        #expect(transcript.bodyText == "Wikipedia in \r\n\r\nchunks.")
        #expect(transcript.eventSummary == "head body end")
        #expect(transcript.heads.first?.headers["Expires"] == nil)
    }

    @Test func emptyChunkedBody() {
        let transcript = parseRequest(chunkedRequest("0\r\n\r\n"))
        #expect(transcript.eventSummary == "head end")
        #expect(transcript.body.isEmpty)
    }

    @Test func hexDigitsInEitherCaseAndLeadingZeros() {
        let data = String(repeating: "x", count: 0xAB)
        let transcript = parseRequest(chunkedRequest("00aB\r\n" + data + "\r\n0000\r\n\r\n"))
        #expect(transcript.error == nil)
        #expect(transcript.body.count == 0xAB)
    }

    @Test func whitespaceBeforeExtensionIsAllowed() {
        let transcript = parseRequest(chunkedRequest("3 \t; a = b\r\nabc\r\n0 ;z\r\n\r\n"))
        #expect(transcript.error == nil)
        #expect(transcript.bodyText == "abc")
    }

    @Test func consumedStopsAfterTheFinalCRLF() {
        let raw = chunkedRequest("1\r\na\r\n0\r\n\r\n")
        let transcript = parseRequest(raw + "GET / HTTP/1.1\r\n")
        #expect(transcript.consumed == raw.utf8.count)
    }

    @Test(arguments: [
        ("empty size", "\r\nabc\r\n0\r\n\r\n"),
        ("leading space", " 3\r\nabc\r\n0\r\n\r\n"),
        ("trailing space", "3 \r\nabc\r\n0\r\n\r\n"),
        ("trailing tab", "3\t\r\nabc\r\n0\r\n\r\n"),
        ("0x prefix", "0x3\r\nabc\r\n0\r\n\r\n"),
        ("non-hex", "3g\r\nabc\r\n0\r\n\r\n"),
        ("sign", "+3\r\nabc\r\n0\r\n\r\n"),
        ("overflow", "10000000000000000\r\nabc\r\n0\r\n\r\n"),
        ("bare LF after size", "3\nabc\r\n0\r\n\r\n"),
        ("bare CR after size", "3\rabc\r\n0\r\n\r\n"),
        ("data too long", "3\r\nabcd\r\n0\r\n\r\n"),
        ("data followed by LF", "3\r\nabc\n0\r\n\r\n"),
        ("data followed by CR only", "3\r\nabc\r0\r\n\r\n"),
        ("data followed by nothing", "3\r\nabc0\r\n\r\n"),
        ("bare LF in extension", "3;a\nb\r\nabc\r\n0\r\n\r\n"),
        ("NUL in extension", "3;a\u{0}\r\nabc\r\n0\r\n\r\n"),
        ("last chunk bare LF", "0\n\r\n"),
        ("final bare LF", "0\r\n\n"),
        ("trailer obs-fold", "0\r\nX-A: 1\r\n  continued\r\n\r\n"),
        ("trailer whitespace before colon", "0\r\nX-A : 1\r\n\r\n"),
        ("trailer empty name", "0\r\n: 1\r\n\r\n"),
        ("trailer without colon", "0\r\nX-A\r\n\r\n"),
        ("trailer control char", "0\r\nX-A: a\u{1}b\r\n\r\n"),
        ("trailer bare LF", "0\r\nX-A: 1\n\r\n"),
        ("trailer bare CR", "0\r\nX-A: 1\rX\r\n\r\n"),
    ])
    func malformedChunkedBodiesAreRefused(_ name: String, _ body: String) {
        let transcript = parseRequest(chunkedRequest(body))
        #expect(transcript.error?.status == 400, "\(name): \(String(describing: transcript.error))")
        #expect(!transcript.eventSummary.hasSuffix("end"), "\(name)")
    }

    @Test func largestRepresentableChunkSizeIsNotAnOverflow() {
        var limits = HTTPLimits()
        limits.maxBodyBytes = Int.max
        let transcript = parseRequest(chunkedRequest("7fffffffffffffff\r\nabc"), limits: limits)
        #expect(transcript.error == nil)
        #expect(transcript.bodyText == "abc")
    }
}
