import SluiceHTTP
import Testing

@Suite("Response parsing")
struct ResponseParsingTests {
    @Test func contentLengthResponse() throws {
        var parser = HTTPResponseParser()
        parser.expectResponse(toMethod: "POST")
        let raw = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello"
        let transcript = feed(&parser, Array(raw.utf8))
        #expect(transcript.error == nil)
        #expect(transcript.eventSummary == "head body end")
        #expect(transcript.bodyText == "hello")
        #expect(transcript.consumed == raw.utf8.count)
        #expect(parser.framing == .contentLength(5))
        let head = try #require(transcript.heads.first)
        #expect(head.status == 200)
        #expect(head.reason == "OK")
        #expect(head.version == .http1_1)
        #expect(head.headers["content-type"] == "text/plain")
    }

    @Test func chunkedResponseInRandomSplits() {
        let raw = Array(
            ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: text/event-stream\r\n\r\n"
                + "d\r\ndata: first\n\n\r\ne;ext\r\ndata: second\n\n\r\n0\r\nX-T: 1\r\n\r\n").utf8)
        for seed in UInt64(0)..<32 {
            var parser = HTTPResponseParser()
            parser.expectResponse(toMethod: "POST")
            let transcript = feed(&parser, raw, pieces: randomPieces(raw.count, seed: seed, maxPiece: 7))
            #expect(transcript.error == nil)
            #expect(transcript.bodyText == "data: first\n\ndata: second\n\n")
            #expect(transcript.consumed == raw.count)
            #expect(parser.framing == .chunked)
            #expect(parser.isComplete)
        }
    }

    @Test func closeDelimitedEndsAtEOF() {
        var parser = HTTPResponseParser()
        parser.expectResponse(toMethod: "GET")
        let transcript = feed(&parser, Array("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\npart one, ".utf8))
        #expect(parser.framing == .closeDelimited)
        #expect(transcript.eventSummary == "head body")
        let more = feed(&parser, Array("part two".utf8))
        #expect(more.bodyText == "part two")
        #expect(!parser.isComplete)
        var events: [String] = []
        let outcome = parser.finishAtEOF { event in
            if case .end = event { events.append("end") } else { events.append("other") }
        }
        #expect(outcome == .completed)
        #expect(events == ["end"])
        #expect(parser.isComplete)
        #expect(parser.finishAtEOF { _ in Issue.record("no second end") } == .completed)
    }

    @Test func closeDelimitedWithNoBodyBytes() {
        var parser = HTTPResponseParser()
        _ = feed(&parser, Array("HTTP/1.0 200 OK\r\n\r\n".utf8))
        #expect(parser.framing == .closeDelimited)
        var ends = 0
        #expect(parser.finishAtEOF { if case .end = $0 { ends += 1 } } == .completed)
        #expect(ends == 1)
    }

    @Test func responseToHEADHasNoBody() {
        var parser = HTTPResponseParser()
        parser.expectResponse(toMethod: "HEAD")
        let raw = "HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n"
        let transcript = feed(&parser, Array((raw + "HTTP/1.1 200 OK\r\n").utf8))
        #expect(transcript.eventSummary == "head end")
        #expect(transcript.consumed == raw.utf8.count)
        #expect(parser.framing == BodyFraming.none)
        #expect(transcript.heads.first?.headers["Content-Length"] == "1234")
    }

    @Test func responseToHEADWithChunkedHasNoBody() {
        let transcript = parseResponse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", method: "HEAD")
        #expect(transcript.eventSummary == "head end")
    }

    @Test(arguments: [204, 304])
    func noContentAndNotModifiedHaveNoBody(status: Int) {
        let raw = "HTTP/1.1 \(status) X\r\nContent-Length: 10\r\n\r\n"
        let transcript = parseResponse(raw + "garbage")
        #expect(transcript.error == nil)
        #expect(transcript.eventSummary == "head end")
        #expect(transcript.consumed == raw.utf8.count)
        #expect(transcript.heads.first?.status == status)
    }

    @Test func interimResponsesAreSkipped() throws {
        let raw = Array(
            ("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>; rel=preload\r\n\r\n"
                + "HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok").utf8)
        for pieces in [[], bytewise(raw.count), [30], [26, 1]] {
            var parser = HTTPResponseParser()
            parser.expectResponse(toMethod: "POST")
            let transcript = feed(&parser, raw, pieces: pieces)
            #expect(transcript.error == nil)
            #expect(transcript.heads.map(\.status) == [201])
            #expect(transcript.eventSummary == "head body end")
            #expect(transcript.bodyText == "ok")
            #expect(transcript.consumed == raw.count)
        }
    }

    @Test func skippedInterimResponseMakesTheParserBusy() {
        var parser = HTTPResponseParser()
        _ = feed(&parser, Array("HTTP/1.1 100 Continue\r\n\r\n".utf8))
        #expect(!parser.isIdle)
        #expect(parser.finishAtEOF { _ in } == .truncated)
    }

    @Test func switchingProtocolsIsRefused() {
        let transcript = parseResponse("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n")
        #expect(transcript.error?.kind == .notImplemented)
        #expect(transcript.heads.isEmpty)
    }

    @Test func truncatedContentLengthBody() {
        var parser = HTTPResponseParser()
        let transcript = feed(&parser, Array("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc".utf8))
        #expect(transcript.bodyText == "abc")
        #expect(parser.finishAtEOF { _ in Issue.record("no event on truncation") } == .truncated)
        #expect(!parser.isComplete)
    }

    @Test func truncatedChunkedBody() {
        var parser = HTTPResponseParser()
        _ = feed(&parser, Array("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n".utf8))
        #expect(parser.finishAtEOF { _ in } == .truncated)
        var trailerCut = HTTPResponseParser()
        _ = feed(&trailerCut, Array("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n".utf8))
        #expect(trailerCut.finishAtEOF { _ in } == .truncated)
    }

    @Test func truncatedHead() {
        var parser = HTTPResponseParser()
        _ = feed(&parser, Array("HTTP/1.1 200 OK\r\nContent-Le".utf8))
        #expect(!parser.isIdle)
        #expect(parser.finishAtEOF { _ in } == .truncated)
    }

    @Test func idleAtEOF() {
        var parser = HTTPResponseParser()
        #expect(parser.isIdle)
        #expect(parser.finishAtEOF { _ in Issue.record("no event when idle") } == .idle)
        var completed = HTTPResponseParser()
        _ = feed(&completed, Array("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n".utf8))
        #expect(completed.finishAtEOF { _ in } == .completed)
        completed.reset()
        #expect(completed.isIdle)
        #expect(completed.finishAtEOF { _ in } == .idle)
    }

    @Test func failedParserIsTruncatedAtEOF() {
        var parser = HTTPResponseParser()
        #expect(feed(&parser, Array("HTTP/1.1 2000 OK\r\n\r\n".utf8)).error?.status == 400)
        #expect(parser.finishAtEOF { _ in } == .truncated)
    }

    @Test func resetForgetsHEAD() {
        var parser = HTTPResponseParser()
        parser.expectResponse(toMethod: "HEAD")
        _ = feed(&parser, Array("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n".utf8))
        #expect(parser.isComplete)
        parser.reset()
        parser.expectResponse(toMethod: "GET")
        let transcript = feed(&parser, Array("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc".utf8))
        #expect(transcript.bodyText == "abc")
        parser.reset()
        let afterReset = feed(&parser, Array("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nxyz".utf8))
        #expect(afterReset.bodyText == "xyz")
    }

    @Test func statusLineVariants() {
        #expect(parseResponse("HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n").heads.first?.reason == "")
        #expect(parseResponse("HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n").heads.first?.reason == "")
        #expect(parseResponse("HTTP/1.1 404 Not  Found \r\nContent-Length: 0\r\n\r\n").heads.first?.reason == "Not  Found ")
        #expect(parseResponse("HTTP/1.0 599 Whatever\r\nContent-Length: 0\r\n\r\n").heads.first?.status == 599)
        #expect(parseResponse("HTTP/1.1 200 Ça va\r\nContent-Length: 0\r\n\r\n").heads.first?.reason == "Ça va")
    }

    @Test(arguments: [
        ("two-digit status", "HTTP/1.1 20 OK\r\n\r\n", 400),
        ("four-digit status", "HTTP/1.1 2000 OK\r\n\r\n", 400),
        ("status below 100", "HTTP/1.1 099 Odd\r\n\r\n", 400),
        ("letters in status", "HTTP/1.1 2x0 OK\r\n\r\n", 400),
        ("two spaces", "HTTP/1.1  200 OK\r\n\r\n", 400),
        ("no status", "HTTP/1.1\r\n\r\n", 400),
        ("HTTP/2.0", "HTTP/2.0 200 OK\r\n\r\n", 505),
        ("lowercase version", "http/1.1 200 OK\r\n\r\n", 400),
        ("CL and TE", "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
        ("differing CLs", "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n", 400),
        ("gzip coding", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501),
        ("final coding not chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", 400),
        ("TE in HTTP/1.0", "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
        ("obs-fold", "HTTP/1.1 200 OK\r\nX-A: 1\r\n 2\r\n\r\n", 400),
        ("bare LF", "HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n", 400),
        ("bare CR in reason", "HTTP/1.1 200 O\rK\r\n\r\n", 400),
        ("bare CR at field line start", "HTTP/1.1 200 OK\r\nX: 1\r\n\rContent-Length: 2\r\n\r\nok", 400),
        ("NUL in value", "HTTP/1.1 200 OK\r\nX-A: \u{0}\r\n\r\n", 400),
    ])
    func malformedResponsesAreRefused(_ name: String, _ raw: String, _ status: Int) {
        #expect(parseResponse(raw).error?.status == status, "\(name)")
    }

    @Test func responseBodyLimitApplies() {
        var limits = HTTPLimits.responseDefaults
        limits.maxBodyBytes = 4
        #expect(parseResponse("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", limits: limits).error?.status == 413)
        // A response to HEAD declares a length it does not send, so the limit does not apply.
        #expect(parseResponse("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", method: "HEAD", limits: limits).error == nil)
    }

    @Test func pipelinedResponsesStopAtTheirEnd() throws {
        let first = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n0\r\n\r\n"
        let second = "HTTP/1.1 404 Not Found\r\nContent-Length: 1\r\n\r\nz"
        let raw = Array((first + second).utf8)
        var parser = HTTPResponseParser()
        let one = feed(&parser, raw)
        #expect(one.consumed == first.utf8.count)
        parser.reset()
        let two = feed(&parser, Array(raw[one.consumed...]))
        #expect(two.heads.first?.status == 404)
        #expect(two.bodyText == "z")
        #expect(two.consumed == second.utf8.count)
    }
}
