import SluiceHTTP
import Testing

@Suite("Limits")
struct LimitsTests {
    private func limits(_ configure: (inout HTTPLimits) -> Void) -> HTTPLimits {
        var limits = HTTPLimits()
        configure(&limits)
        return limits
    }

    @Test func defaults() {
        let limits = HTTPLimits()
        #expect(limits.maxRequestLineBytes == 8192)
        #expect(limits.maxHeaderBytes == 32 * 1024)
        #expect(limits.maxHeaderCount == 100)
        #expect(limits.maxBodyBytes == 10 * 1024 * 1024)
        #expect(limits.maxChunkLineBytes == 4096)
        #expect(limits.maxTrailerBytes == 8192)
        #expect(HTTPLimits.responseDefaults.maxBodyBytes == Int.max)
        #expect(HTTPLimits.responseDefaults.maxHeaderCount == 100)
    }

    @Test func requestLineAtTheLimitIsAccepted() {
        // "GET " + target + " HTTP/1.1" is exactly 8192 bytes.
        let target = "/" + String(repeating: "a", count: 8192 - 4 - 9 - 1)
        #expect(parseRequest("GET \(target) HTTP/1.1\r\nHost: h\r\n\r\n").error == nil)
    }

    @Test func requestLineOverTheLimitIs414() {
        let target = "/" + String(repeating: "a", count: 8192 - 4 - 9)
        #expect(parseRequest("GET \(target) HTTP/1.1\r\nHost: h\r\n\r\n").error?.status == 414)
    }

    @Test func longRequestLineFailsBeforeItEnds() {
        // No line end ever arrives: the parser must not keep buffering.
        var parser = HTTPRequestParser(limits: limits { $0.maxRequestLineBytes = 64 })
        let raw = Array(("GET /" + String(repeating: "a", count: 100)).utf8)
        let transcript = feed(&parser, raw, pieces: randomPieces(raw.count, seed: 7))
        #expect(transcript.error?.kind == .uriTooLong)
        #expect(transcript.consumed <= 80)
    }

    @Test func tooManyFieldsIs431() {
        let fields = (0..<101).map { "X-\($0): v\r\n" }.joined()
        #expect(parseRequest("GET / HTTP/1.1\r\nHost: h\r\n" + fields + "\r\n").error?.status == 431)
        let fewer = (0..<99).map { "X-\($0): v\r\n" }.joined()
        #expect(parseRequest("GET / HTTP/1.1\r\nHost: h\r\n" + fewer + "\r\n").error == nil)
    }

    @Test func headOverTheByteLimitIs431() {
        let limits = limits { $0.maxHeaderBytes = 100 }
        func head(valueLength: Int) -> String {
            "GET / HTTP/1.1\r\nHost: h\r\nX: " + String(repeating: "x", count: valueLength) + "\r\n\r\n"
        }
        let overhead = head(valueLength: 0).utf8.count
        #expect(head(valueLength: 100 - overhead).utf8.count == 100)
        #expect(parseRequest(head(valueLength: 100 - overhead), limits: limits).error == nil)
        #expect(parseRequest(head(valueLength: 101 - overhead), limits: limits).error?.status == 431)
    }

    @Test func endlessHeadFailsBeforeItEnds() {
        var parser = HTTPRequestParser(limits: limits { $0.maxHeaderBytes = 256 })
        let raw = Array(("GET / HTTP/1.1\r\nHost: h\r\nX-A: " + String(repeating: "v", count: 1000)).utf8)
        let transcript = feed(&parser, raw, pieces: randomPieces(raw.count, seed: 3))
        #expect(transcript.error?.status == 431)
        #expect(transcript.consumed <= 256 + 16)
    }

    @Test func contentLengthOverTheBodyLimitIs413AtHeadTime() {
        let limits = limits { $0.maxBodyBytes = 10 }
        let over = parseRequest("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\n", limits: limits)
        #expect(over.error?.status == 413)
        #expect(over.heads.isEmpty)
        let atLimit = parseRequest("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\n0123456789", limits: limits)
        #expect(atLimit.error == nil)
        #expect(atLimit.bodyText == "0123456789")
    }

    @Test func chunkedTotalOverTheBodyLimitIs413() {
        let limits = limits { $0.maxBodyBytes = 10 }
        let head = "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
        let over = parseRequest(head + "6\r\nabcdef\r\n5\r\nghijk\r\n0\r\n\r\n", limits: limits)
        #expect(over.error?.status == 413)
        #expect(over.bodyText == "abcdef", "the refusal comes at the size line, before any byte of the chunk")
        let atLimit = parseRequest(head + "6\r\nabcdef\r\n4\r\nghij\r\n0\r\n\r\n", limits: limits)
        #expect(atLimit.error == nil)
        #expect(atLimit.bodyText == "abcdefghij")
    }

    @Test func hugeChunkSizeIs413NotAnOverflow() {
        let head = "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
        #expect(parseRequest(head + "7fffffffffffffff\r\n").error?.status == 413)
    }

    @Test func chunkLineOverTheLimitIs400() {
        let limits = limits { $0.maxChunkLineBytes = 16 }
        let head = "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
        // "1;" + 14 bytes = 16 bytes: at the limit.
        #expect(parseRequest(head + "1;abcdefghijklmn\r\nx\r\n0\r\n\r\n", limits: limits).error == nil)
        #expect(parseRequest(head + "1;abcdefghijklmno\r\nx\r\n0\r\n\r\n", limits: limits).error?.status == 400)
        #expect(parseRequest(head + String(repeating: "0", count: 17) + "1\r\nx\r\n0\r\n\r\n", limits: limits).error?.status == 400)
    }

    @Test func trailerSectionOverTheLimitIs431() {
        let limits = limits { $0.maxTrailerBytes = 20 }
        let head = "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n"
        // "X-T: 123456789012\r\n" (19) + "\r\n" (2) = 21 bytes.
        #expect(parseRequest(head + "X-T: 12345678901\r\n\r\n", limits: limits).error == nil)
        #expect(parseRequest(head + "X-T: 123456789012\r\n\r\n", limits: limits).error?.status == 431)
    }

    @Test func responseStatusLineLimitIs431() {
        var limits = HTTPLimits.responseDefaults
        limits.maxRequestLineBytes = 20
        let transcript = parseResponse("HTTP/1.1 200 " + String(repeating: "O", count: 20) + "\r\n\r\n", limits: limits)
        #expect(transcript.error?.status == 431)
    }
}
