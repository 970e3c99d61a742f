@testable import SluiceHTTP
import Testing

@Suite("HTTPHeaders")
struct HTTPHeadersTests {
    @Test func lookupsIgnoreASCIICase() {
        let headers: HTTPHeaders = ["Content-Type": "text/plain", "X-Trace": "a"]
        #expect(headers["content-type"] == "text/plain")
        #expect(headers["CONTENT-TYPE"] == "text/plain")
        #expect(headers["x-trace"] == "a")
        #expect(headers["Content-Typ"] == nil)
        #expect(headers["Content-Types"] == nil)
        #expect(headers.contains("x-TRACE"))
        #expect(!headers.contains("trace"))
    }

    @Test func preservesOrderAndSpelling() {
        var headers = HTTPHeaders([("B", "1"), ("a", "2"), ("b", "3")])
        headers.add("X-New", "4")
        #expect(headers.map(\.name) == ["B", "a", "b", "X-New"])
        #expect(headers.map(\.value) == ["1", "2", "3", "4"])
        #expect(headers.count == 4)
        #expect(headers.values("b") == ["1", "3"])
        #expect(headers["b"] == "1")
        #expect(headers[position: 1].name == "a")
    }

    @Test func setReplacesAllAndAppends() {
        var headers = HTTPHeaders([("Accept", "a"), ("Host", "h"), ("accept", "b")])
        headers.set("ACCEPT", "c")
        #expect(headers.map(\.name) == ["Host", "ACCEPT"])
        #expect(headers.values("accept") == ["c"])
    }

    @Test func removeDropsEveryMatch() {
        var headers = HTTPHeaders([("Via", "1"), ("Host", "h"), ("VIA", "2")])
        headers.remove("via")
        #expect(headers.count == 1)
        #expect(headers["Host"] == "h")
        headers.remove("missing")
        #expect(headers.count == 1)
    }

    @Test func emptyHeaders() {
        let headers = HTTPHeaders()
        #expect(headers.count == 0)
        #expect(headers["Host"] == nil)
        #expect(headers.values("Host").isEmpty)
        #expect(!headers.containsToken("close", in: "Connection"))
    }

    @Test func containsTokenMatchesListElements() {
        let headers = HTTPHeaders([("Connection", "keep-alive , Upgrade"), ("connection", "\tTE")])
        #expect(headers.containsToken("keep-alive", in: "Connection"))
        #expect(headers.containsToken("upgrade", in: "CONNECTION"))
        #expect(headers.containsToken("te", in: "connection"))
        #expect(!headers.containsToken("keep", in: "Connection"))
        #expect(!headers.containsToken("alive", in: "Connection"))
        #expect(!headers.containsToken("keep-alive , Upgrade", in: "Connection"))
        #expect(!headers.containsToken("upgrade", in: "Upgrade"))
    }

    @Test func containsTokenIgnoresEmptyElements() {
        let headers: HTTPHeaders = ["Connection": ", ,close,"]
        #expect(headers.containsToken("close", in: "Connection"))
        #expect(!headers.containsToken("keep-alive", in: "Connection"))
    }

    @Test func repeatedEditsKeepEveryFieldIntact() throws {
        var parser = HTTPRequestParser()
        let transcript = feed(&parser, Array("GET / HTTP/1.1\r\nHost: h\r\nX-Keep: kept\r\nX-Edit: 0\r\n\r\n".utf8))
        var headers = try #require(transcript.heads.first).headers
        // Enough churn to force the storage to be rebuilt several times.
        for round in 1...2000 {
            headers.set("X-Edit", String(repeating: "e", count: round % 50))
            headers.add("X-Temp", "temporary value \(round)")
            headers.remove("x-temp")
        }
        #expect(headers.map(\.name) == ["Host", "X-Keep", "X-Edit"])
        #expect(headers.storageByteCount < 8192, "removed bytes are reclaimed")
        #expect(headers["host"] == "h")
        #expect(headers["x-keep"] == "kept")
        #expect(headers["x-edit"] == String(repeating: "e", count: 0))
        var written: [UInt8] = []
        headers.write(into: &written)
        #expect(String(decoding: written, as: UTF8.self) == "Host: h\r\nX-Keep: kept\r\nX-Edit: \r\n")
    }

    @Test func equalityIsOrderedAndExact() {
        let a: HTTPHeaders = ["A": "1", "B": "2"]
        #expect(a == HTTPHeaders([("A", "1"), ("B", "2")]))
        #expect(a != HTTPHeaders([("B", "2"), ("A", "1")]))
        #expect(a != HTTPHeaders([("a", "1"), ("B", "2")]))
    }

    @Test func nonASCIINamesDoNotFoldCase() {
        let headers: HTTPHeaders = ["Ä": "1"]
        #expect(headers["ä"] == nil)
        #expect(headers["Ä"] == "1")
    }
}
