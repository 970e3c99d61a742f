import SluiceHTTP
import Testing

@Suite("Serialization")
struct SerializationTests {
    private func text(_ write: (inout [UInt8]) -> Void) -> String {
        var buffer: [UInt8] = []
        write(&buffer)
        return String(decoding: buffer, as: UTF8.self)
    }

    @Test func requestHeadBytes() {
        let head = HTTPRequestHead(
            method: "POST", target: "/v1/chat?x=1",
            headers: HTTPHeaders([("Host", "api.example"), ("content-length", "2"), ("X-A", "1"), ("x-a", "2")]))
        #expect(text(head.write) == "POST /v1/chat?x=1 HTTP/1.1\r\nHost: api.example\r\ncontent-length: 2\r\nX-A: 1\r\nx-a: 2\r\n\r\n")
    }

    @Test func requestHeadKeepsItsVersion() {
        let head = HTTPRequestHead(method: "GET", target: "/", version: .http1_0)
        #expect(text(head.write) == "GET / HTTP/1.0\r\n\r\n")
    }

    @Test func writeAppendsToExistingBytes() {
        var buffer: [UInt8] = Array("prefix|".utf8)
        HTTPRequestHead(method: "GET", target: "/").write(into: &buffer)
        #expect(String(decoding: buffer, as: UTF8.self) == "prefix|GET / HTTP/1.1\r\n\r\n")
    }

    @Test func responseHeadBytes() {
        let head = HTTPResponseHead(status: 200, headers: ["Content-Type": "text/event-stream", "Cache-Control": "no-cache"])
        #expect(head.reason == "OK")
        #expect(text(head.write) == "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n\r\n")
        #expect(text(HTTPResponseHead(status: 429, reason: "Slow Down").write) == "HTTP/1.1 429 Slow Down\r\n\r\n")
        #expect(text(HTTPResponseHead(status: 204, version: .http1_0).write) == "HTTP/1.0 204 No Content\r\n\r\n")
        #expect(text(HTTPResponseHead(status: 299).write) == "HTTP/1.1 299 \r\n\r\n")
    }

    @Test func standardReasons() {
        #expect(HTTPResponseHead.standardReason(200) == "OK")
        #expect(HTTPResponseHead.standardReason(400) == "Bad Request")
        #expect(HTTPResponseHead.standardReason(413) == "Content Too Large")
        #expect(HTTPResponseHead.standardReason(414) == "URI Too Long")
        #expect(HTTPResponseHead.standardReason(431) == "Request Header Fields Too Large")
        #expect(HTTPResponseHead.standardReason(502) == "Bad Gateway")
        #expect(HTTPResponseHead.standardReason(504) == "Gateway Timeout")
        #expect(HTTPResponseHead.standardReason(505) == "HTTP Version Not Supported")
        #expect(HTTPResponseHead.standardReason(799) == "")
    }

    @Test func versionDescription() {
        #expect(HTTPVersion.http1_1.description == "HTTP/1.1")
        #expect(HTTPVersion.http1_0.description == "HTTP/1.0")
        #expect(HTTPVersion(major: 2, minor: 0).description == "HTTP/2.0")
    }

    @Test func requestRoundTrip() throws {
        let original = HTTPRequestHead(
            method: "PATCH", target: "/a/b?c=d&e",
            headers: HTTPHeaders([("Host", "h:8080"), ("Content-Length", "3"), ("X-Unicode", "naïve ✓"), ("Empty", "")]))
        var bytes: [UInt8] = []
        original.write(into: &bytes)
        bytes += Array("abc".utf8)
        var parser = HTTPRequestParser()
        let transcript = feed(&parser, bytes)
        #expect(transcript.error == nil)
        let parsed = try #require(transcript.heads.first)
        #expect(parsed.method == original.method)
        #expect(parsed.target == original.target)
        #expect(parsed.version == original.version)
        #expect(parsed.headers == original.headers)
        #expect(transcript.bodyText == "abc")
    }

    @Test func responseRoundTrip() throws {
        let original = HTTPResponseHead(
            status: 503, reason: "Try Later", version: .http1_0,
            headers: HTTPHeaders([("Retry-After", "5"), ("Content-Length", "0")]))
        var bytes: [UInt8] = []
        original.write(into: &bytes)
        var parser = HTTPResponseParser()
        let transcript = feed(&parser, bytes)
        let parsed = try #require(transcript.heads.first)
        #expect(parsed.status == 503)
        #expect(parsed.reason == "Try Later")
        #expect(parsed.version == .http1_0)
        #expect(parsed.headers == original.headers)
        #expect(transcript.consumed == bytes.count)
    }

    @Test func fieldContentCannotSplitTheHead() {
        var headers: HTTPHeaders = ["X-Evil": "a\r\nContent-Length: 0\r\n\r\nGET /smuggled HTTP/1.1"]
        headers.add("Bad Name", "dropped")
        headers.add("", "dropped too")
        headers.add("X-Nul", "a\u{0}b")
        let head = HTTPRequestHead(method: "GET", target: "/", headers: headers)
        #expect(text(head.write) == "GET / HTTP/1.1\r\nX-Evil: a  Content-Length: 0    GET /smuggled HTTP/1.1\r\nX-Nul: a b\r\n\r\n")
    }

    @Test func startLineContentCannotSplitTheLine() {
        let request = HTTPRequestHead(method: "GE T", target: "/a b\r\nX: y")
        #expect(text(request.write) == "GE%20T /a%20b%0D%0AX:%20y HTTP/1.1\r\n\r\n")
        let response = HTTPResponseHead(status: 200, reason: "OK\r\nSet-Cookie: x")
        #expect(text(response.write) == "HTTP/1.1 200 OK  Set-Cookie: x\r\n\r\n")
    }

    @Test func writtenHeadsParseWithoutError() {
        // Whatever the head holds, what we write must be something our own strict parser accepts.
        var headers: HTTPHeaders = ["Host": "h", "X-Evil": "a\r\n b", "X-Tab": "\tv\t"]
        headers.add("Bad Name", "x")
        let head = HTTPRequestHead(method: "G\u{1}T", target: "/\u{7F}", headers: headers)
        var bytes: [UInt8] = []
        head.write(into: &bytes)
        var parser = HTTPRequestParser()
        let transcript = feed(&parser, bytes)
        #expect(transcript.error == nil)
        #expect(transcript.heads.first?.headers["x-tab"] == "v")
    }
}
