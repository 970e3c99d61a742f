import SluiceHTTP
import Testing

/// One malformed or ambiguous request and the status it must be refused with.
struct RejectedRequest: Sendable, CustomTestStringConvertible {
    var name: String
    var raw: String
    var status: Int

    init(_ name: String, _ raw: String, _ status: Int) {
        self.name = name
        self.raw = raw
        self.status = status
    }

    var testDescription: String { name }
}

/// Every framing ambiguity that lets two parsers disagree about where a request ends must be refused, not guessed.
@Suite("Request smuggling defences")
struct SmugglingTests {
    static let framing: [RejectedRequest] = [
        .init("CL and TE", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
        .init("TE and CL", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 0\r\n\r\n", 400),
        .init("differing CLs", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello", 400),
        .init("differing CL list", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5, 6\r\n\r\nhello", 400),
        .init("CL empty list element", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5,,5\r\n\r\nhello", 400),
        .init("CL empty", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length:\r\n\r\n", 400),
        .init("CL plus sign", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: +5\r\n\r\nhello", 400),
        .init("CL minus sign", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n", 400),
        .init("CL inner space", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1 2\r\n\r\n", 400),
        .init("CL hex", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0x5\r\n\r\nhello", 400),
        .init("CL decimal point", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5.0\r\n\r\nhello", 400),
        .init("CL overflow", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 99999999999999999999\r\n\r\n", 400),
        .init("CL fullwidth digit", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: ５\r\n\r\nhello", 400),
        .init("TE final not chunked", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", 400),
        .init("TE identity", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: identity\r\n\r\n", 400),
        .init("TE chunked twice", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
        .init("TE empty", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: \r\n\r\n", 400),
        .init("TE empty line beside chunked", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding:\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
        .init("TE only commas", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: ,,\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
        .init("TE with parameter", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked;x=1\r\n\r\n", 400),
        .init("TE misspelt", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunke\r\n\r\n", 400),
        .init("TE quoted", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: \"chunked\"\r\n\r\n", 400),
        .init("TE in HTTP/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
        .init("TE gzip then chunked", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501),
        .init("TE split over fields", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: deflate\r\nTransfer-Encoding: chunked\r\n\r\n", 501),
    ]

    static let syntax: [RejectedRequest] = [
        .init("obs-fold", "GET / HTTP/1.1\r\nHost: h\r\nX-A: 1\r\n 2\r\n\r\n", 400),
        .init("obs-fold with tab", "GET / HTTP/1.1\r\nHost: h\r\nX-A: 1\r\n\t2\r\n\r\n", 400),
        .init("whitespace before first field", "GET / HTTP/1.1\r\n Host: h\r\n\r\n", 400),
        .init("folded Transfer-Encoding", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding:\r\n chunked\r\n\r\n", 400),
        .init("bare CR in value", "GET / HTTP/1.1\r\nHost: h\r\nX-A: 1\r2\r\n\r\n", 400),
        .init("bare CR in name", "GET / HTTP/1.1\r\nHost: h\r\nX\rA: 1\r\n\r\n", 400),
        .init("bare CR in request line", "GET /\r HTTP/1.1\r\nHost: h\r\n\r\n", 400),
        .init("bare CR as line end", "GET / HTTP/1.1\r\nHost: h\rX-A: 1\r\n\r\n", 400),
        .init("bare LF after request line", "GET / HTTP/1.1\nHost: h\r\n\r\n", 400),
        .init("bare LF after field", "GET / HTTP/1.1\r\nHost: h\n\r\n", 400),
        .init("bare LF as head end", "GET / HTTP/1.1\r\nHost: h\r\n\n", 400),
        .init("bare LF before request line", "\nGET / HTTP/1.1\r\nHost: h\r\n\r\n", 400),
        .init("space before colon", "GET / HTTP/1.1\r\nHost : h\r\n\r\n", 400),
        .init("tab before colon", "GET / HTTP/1.1\r\nHost\t: h\r\n\r\n", 400),
        .init("space before colon in CL", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length : 5\r\n\r\nhello", 400),
        .init("empty field name", "GET / HTTP/1.1\r\nHost: h\r\n: v\r\n\r\n", 400),
        .init("field without colon", "GET / HTTP/1.1\r\nHost: h\r\nX-A\r\n\r\n", 400),
        .init("non-token field name", "GET / HTTP/1.1\r\nHost: h\r\nX(A): 1\r\n\r\n", 400),
        .init("non-ASCII field name", "GET / HTTP/1.1\r\nHost: h\r\nXé: 1\r\n\r\n", 400),
        .init("NUL in value", "GET / HTTP/1.1\r\nHost: h\r\nX-A: a\u{0}b\r\n\r\n", 400),
        .init("control char in value", "GET / HTTP/1.1\r\nHost: h\r\nX-A: a\u{1B}b\r\n\r\n", 400),
        .init("DEL in value", "GET / HTTP/1.1\r\nHost: h\r\nX-A: a\u{7F}b\r\n\r\n", 400),
        .init("control char late in long value", "GET / HTTP/1.1\r\nHost: h\r\nX-A: abcdefghijklmnopqrstu\u{2}vwxyz\r\n\r\n", 400),
        .init("non-token method", "G(T / HTTP/1.1\r\nHost: h\r\n\r\n", 400),
        .init("empty method", " / HTTP/1.1\r\nHost: h\r\n\r\n", 400),
        .init("space in target", "GET /a b HTTP/1.1\r\nHost: h\r\n\r\n", 400),
        .init("tab in target", "GET /a\tb HTTP/1.1\r\nHost: h\r\n\r\n", 400),
        .init("control char in target", "GET /a\u{1}b HTTP/1.1\r\nHost: h\r\n\r\n", 400),
        .init("non-ASCII in target", "GET /é HTTP/1.1\r\nHost: h\r\n\r\n", 400),
        .init("two spaces after method", "GET  / HTTP/1.1\r\nHost: h\r\n\r\n", 400),
        .init("two spaces after target", "GET /  HTTP/1.1\r\nHost: h\r\n\r\n", 400),
        .init("tab as separator", "GET\t/ HTTP/1.1\r\nHost: h\r\n\r\n", 400),
        .init("trailing space", "GET / HTTP/1.1 \r\nHost: h\r\n\r\n", 400),
        .init("missing version", "GET /\r\nHost: h\r\n\r\n", 400),
        .init("missing target", "GET\r\nHost: h\r\n\r\n", 400),
        .init("lowercase version", "GET / http/1.1\r\nHost: h\r\n\r\n", 400),
        .init("version without minor", "GET / HTTP/1\r\nHost: h\r\n\r\n", 400),
        .init("two-digit minor", "GET / HTTP/1.10\r\nHost: h\r\n\r\n", 400),
        .init("HTTP/2.0", "GET / HTTP/2.0\r\nHost: h\r\n\r\n", 505),
        .init("HTTP/1.2", "GET / HTTP/1.2\r\nHost: h\r\n\r\n", 505),
        .init("HTTP/0.9", "GET / HTTP/0.9\r\n\r\n", 505),
        .init("no Host in HTTP/1.1", "GET / HTTP/1.1\r\nX-A: 1\r\n\r\n", 400),
        .init("two Hosts", "GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n", 400),
        .init("two Hosts in HTTP/1.0", "GET / HTTP/1.0\r\nHost: a\r\nHost: a\r\n\r\n", 400),
        .init("bare CR before request line", "\rGET / HTTP/1.1\r\nHost: h\r\n\r\n", 400),
        // A bare CR at the start of a field line once ended the head there: the fields after it were dropped and
        // the bytes after the head were read as a second request.
        .init("bare CR at field line start", "POST /a HTTP/1.1\r\nHost: x\r\n\rX: y\r\nContent-Length: 35\r\n\r\nGET /SMUGGLED HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        .init("bare CR before Transfer-Encoding", "POST / HTTP/1.1\r\nHost: x\r\n\rTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
        .init("bare CR line after request line", "GET / HTTP/1.1\r\n\rHost: x\r\n\r\n", 400),
        .init("lone CR line", "GET / HTTP/1.1\r\nHost: x\r\n\r\r\n\r\n", 400),
    ]

    @Test(arguments: framing)
    func ambiguousFramingIsRefused(_ request: RejectedRequest) {
        expectRejected(request)
    }

    @Test(arguments: syntax)
    func malformedHeadsAreRefused(_ request: RejectedRequest) {
        expectRejected(request)
    }

    private func expectRejected(_ request: RejectedRequest, sourceLocation: SourceLocation = #_sourceLocation) {
        let raw = Array(request.raw.utf8)
        // Whole, and byte by byte: the verdict must not depend on how the bytes arrive.
        for pieces in [[], bytewise(raw.count)] {
            var parser = HTTPRequestParser()
            let transcript = feed(&parser, raw, pieces: pieces)
            #expect(transcript.error?.status == request.status, "\(request.name)", sourceLocation: sourceLocation)
            #expect(transcript.heads.isEmpty, "\(request.name) must not reach the engine", sourceLocation: sourceLocation)
            // The parser stays failed.
            let again = feed(&parser, Array("GET / HTTP/1.1\r\nHost: h\r\n\r\n".utf8))
            #expect(again.error == transcript.error, sourceLocation: sourceLocation)
        }
    }

    @Test func reasonsNameTheViolation() {
        let both = parseRequest(Self.framing[0].raw)
        #expect(both.error == HTTPParseError(.badRequest, "Content-Length and Transfer-Encoding together"))
        let gzip = parseRequest("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n")
        #expect(gzip.error?.kind == .notImplemented)
        let version = parseRequest("GET / HTTP/2.0\r\nHost: h\r\n\r\n")
        #expect(version.error?.kind == .versionNotSupported)
    }

    @Test func tolerableShapesAreAccepted() {
        // Identical Content-Length repeats, TE list with empty elements, tab around values.
        #expect(parseRequest("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok").bodyText == "ok")
        #expect(parseRequest("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: , chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n").bodyText == "ok")
        #expect(parseRequest("POST / HTTP/1.1\r\nHost: h\r\nContent-Length:\t2\t\r\n\r\nok").bodyText == "ok")
    }
}

extension SmugglingTests {
    /// A head that is over a size limit and also malformed after that point gets the size verdict however its
    /// bytes are cut: it once got 400 whole and 414 or 431 byte by byte (found by the `request` fuzz target).
    @Test func theVerdictOnAnOversizedMalformedHeadDoesNotDependOnTheCuts() {
        var limits = HTTPLimits()
        limits.maxRequestLineBytes = 32
        limits.maxHeaderBytes = 64
        let cases: [(String, Int)] = [
            ("GET /" + String(repeating: "a", count: 40) + " HTTP/1.1\nHost: h\r\n\r\n", 414),
            ("GET / HTTP/1.1\r\nHost: h\r\nX: " + String(repeating: "v", count: 80) + "\n\r\n", 431),
        ]
        for (raw, status) in cases {
            let bytes = Array(raw.utf8)
            for pieces in [[], bytewise(bytes.count), [bytes.count / 2]] {
                var parser = HTTPRequestParser(limits: limits)
                #expect(feed(&parser, bytes, pieces: pieces).error?.status == status, "\(status) with pieces \(pieces.count)")
            }
        }
    }
}
