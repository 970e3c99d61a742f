import SluiceHTTP
import Testing

@Suite("Request parsing")
struct RequestParsingTests {
    @Test func simpleGet() throws {
        let raw = "GET /v1/models?limit=5 HTTP/1.1\r\nHost: api.example\r\nAccept: */*\r\n\r\n"
        var parser = HTTPRequestParser()
        let transcript = feed(&parser, Array(raw.utf8))
        #expect(transcript.error == nil)
        #expect(transcript.eventSummary == "head end")
        #expect(transcript.consumed == raw.utf8.count)
        let head = try #require(transcript.heads.first)
        #expect(head.method == "GET")
        #expect(head.target == "/v1/models?limit=5")
        #expect(head.path == "/v1/models")
        #expect(head.version == .http1_1)
        #expect(head.headers == HTTPHeaders([("Host", "api.example"), ("Accept", "*/*")]))
        #expect(parser.framing == BodyFraming.none)
        #expect(parser.isComplete)
        #expect(!parser.isIdle)
    }

    @Test func postWithContentLength() throws {
        let raw = "POST /v1/chat HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\nhello world"
        var parser = HTTPRequestParser()
        let transcript = feed(&parser, Array(raw.utf8))
        #expect(transcript.eventSummary == "head body end")
        #expect(transcript.bodyText == "hello world")
        #expect(transcript.consumed == raw.utf8.count)
        #expect(parser.framing == .contentLength(11))
        #expect(try #require(transcript.heads.first).method == "POST")
    }

    @Test func zeroContentLengthEndsAtHead() {
        let raw = "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n"
        var parser = HTTPRequestParser()
        let transcript = feed(&parser, Array(raw.utf8))
        #expect(transcript.eventSummary == "head end")
        #expect(parser.framing == .contentLength(0))
    }

    @Test func fieldValuesAreTrimmedButInnerSpaceKept() throws {
        let transcript = parseRequest("GET / HTTP/1.1\r\nHost:h\r\nX-A: \t a  b \t\r\nX-Empty:\r\nX-Blank:   \r\n\r\n")
        let headers = try #require(transcript.heads.first).headers
        #expect(headers["Host"] == "h")
        #expect(headers["X-A"] == "a  b")
        #expect(headers["X-Empty"] == "")
        #expect(headers["X-Blank"] == "")
    }

    @Test func skipsLeadingEmptyLines() throws {
        var parser = HTTPRequestParser()
        let raw = Array("\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n".utf8)
        let transcript = feed(&parser, raw, pieces: bytewise(raw.count))
        #expect(transcript.error == nil)
        #expect(transcript.consumed == raw.count)
        #expect(try #require(transcript.heads.first).target == "/")
    }

    @Test func emptyLinesAloneKeepTheParserIdle() throws {
        var parser = HTTPRequestParser()
        let used = try Array("\r\n\r".utf8).withUnsafeBytes { try parser.parse($0) { _ in } }
        #expect(used == 3)
        #expect(parser.isIdle)
        _ = try Array("\nG".utf8).withUnsafeBytes { try parser.parse($0) { _ in } }
        #expect(!parser.isIdle)
    }

    @Test func tooManyLeadingEmptyLinesAreRefused() {
        let transcript = parseRequest(String(repeating: "\r\n", count: 9) + "GET / HTTP/1.1\r\nHost: h\r\n\r\n")
        #expect(transcript.error?.status == 400)
    }

    @Test func http10WithoutHostIsAccepted() throws {
        let transcript = parseRequest("GET / HTTP/1.0\r\n\r\n")
        #expect(transcript.error == nil)
        #expect(try #require(transcript.heads.first).version == .http1_0)
    }

    @Test func otherRequestTargetForms() throws {
        #expect(parseRequest("OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n").heads.first?.target == "*")
        let absolute = try #require(parseRequest("GET http://h/x?y HTTP/1.1\r\nHost: h\r\n\r\n").heads.first)
        #expect(absolute.target == "http://h/x?y")
        #expect(absolute.path == "http://h/x")
    }

    @Test func extensionMethodsAreTokens() {
        #expect(parseRequest("PURGE-ALL /x HTTP/1.1\r\nHost: h\r\n\r\n").heads.first?.method == "PURGE-ALL")
    }

    @Test func utf8FieldValuesAreKept() {
        let transcript = parseRequest("GET / HTTP/1.1\r\nHost: h\r\nX-Name: Zoë ✓\r\n\r\n")
        #expect(transcript.heads.first?.headers["x-name"] == "Zoë ✓")
    }

    @Test func obsTextIsForwardedByteExact() throws {
        var raw = Array("GET / HTTP/1.1\r\nHost: h\r\nX-Name: a".utf8)
        raw += [0xE9, 0x62]  // Latin-1 "é" followed by ASCII: obs-text, not UTF-8
        raw += Array("\r\n\r\n".utf8)
        var parser = HTTPRequestParser()
        let transcript = feed(&parser, raw)
        #expect(transcript.error == nil)
        let head = try #require(transcript.heads.first)
        #expect(head.headers["x-name"] == "a\u{FFFD}b", "the String view repairs")
        var written: [UInt8] = []
        head.write(into: &written)
        #expect(written == raw, "the wire form is unchanged")
    }

    @Test func identicalContentLengthsCollapseToOne() throws {
        let raw = "POST / HTTP/1.1\r\nContent-Length: 5, 5\r\nHost: h\r\ncontent-length: 5\r\n\r\nhello"
        var parser = HTTPRequestParser()
        let transcript = feed(&parser, Array(raw.utf8))
        #expect(transcript.error == nil)
        #expect(transcript.bodyText == "hello")
        #expect(parser.framing == .contentLength(5))
        let headers = try #require(transcript.heads.first).headers
        #expect(headers.map(\.name) == ["Content-Length", "Host"])
        #expect(headers.values("content-length") == ["5"])
    }

    @Test func leadingZerosInContentLengthAreDecimal() {
        var parser = HTTPRequestParser()
        let transcript = feed(&parser, Array("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 007\r\n\r\nabcdefg".utf8))
        #expect(parser.framing == .contentLength(7))
        #expect(transcript.bodyText == "abcdefg")
    }

    @Test func transferEncodingIsCaseInsensitive() {
        var parser = HTTPRequestParser()
        let transcript = feed(&parser, Array("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: Chunked\r\n\r\n0\r\n\r\n".utf8))
        #expect(transcript.error == nil)
        #expect(parser.framing == .chunked)
        #expect(transcript.eventSummary == "head end")
    }

    @Test func parseAfterEndConsumesNothing() throws {
        var parser = HTTPRequestParser()
        _ = feed(&parser, Array("GET / HTTP/1.1\r\nHost: h\r\n\r\n".utf8))
        var events = 0
        let used = try Array("GET /next HTTP/1.1\r\n".utf8).withUnsafeBytes { try parser.parse($0) { _ in events += 1 } }
        #expect(used == 0)
        #expect(events == 0)
        #expect(parser.isComplete)
    }

    @Test func errorsAreSticky() {
        var parser = HTTPRequestParser()
        let first = feed(&parser, Array("GET / HTTP/1.1\r\nHost : h\r\n\r\n".utf8))
        #expect(first.error?.status == 400)
        let second = feed(&parser, Array("GET / HTTP/1.1\r\nHost: h\r\n\r\n".utf8))
        #expect(second.error == first.error)
        #expect(second.heads.isEmpty)
    }

    @Test func resetMakesTheParserIdleAgain() {
        var parser = HTTPRequestParser()
        #expect(parser.isIdle)
        #expect(!parser.isComplete)
        _ = feed(&parser, Array("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\n\r\nx".utf8))
        #expect(parser.isComplete)
        parser.reset()
        #expect(parser.isIdle)
        #expect(!parser.isComplete)
        #expect(parser.framing == BodyFraming.none)
    }

    @Test func partialHeadIsConsumedAndNotIdle() throws {
        var parser = HTTPRequestParser()
        var events = 0
        let used = try Array("GET / HT".utf8).withUnsafeBytes { try parser.parse($0) { _ in events += 1 } }
        #expect(used == 8)
        #expect(events == 0)
        #expect(!parser.isIdle)
        #expect(!parser.isComplete)
    }

    @Test func bodyEventsPointIntoTheCallersInput() throws {
        let raw = Array("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc".utf8)
        var parser = HTTPRequestParser()
        try raw.withUnsafeBytes { input in
            var bodyStart: UnsafeRawPointer?
            _ = try parser.parse(input) { event in
                if case .body(let bytes) = event { bodyStart = bytes.baseAddress }
            }
            #expect(bodyStart == input.baseAddress! + (raw.count - 3))
        }
    }

    @Test func errorDescriptionNamesStatusAndReason() {
        let error = HTTPParseError(.headersTooLarge, "too many header fields")
        #expect(error.status == 431)
        #expect(error.description == "431 Request Header Fields Too Large: too many header fields")
        #expect(HTTPParseError(.badRequest, "x").status == 400)
        #expect(HTTPParseError(.uriTooLong, "x").status == 414)
        #expect(HTTPParseError(.bodyTooLarge, "x").status == 413)
        #expect(HTTPParseError(.versionNotSupported, "x").status == 505)
        #expect(HTTPParseError(.notImplemented, "x").status == 501)
    }
}
