import SluiceHTTP
import Testing

@Suite("Keep-alive")
struct KeepAliveTests {
    private func request(_ version: HTTPVersion, _ connection: String?) -> HTTPRequestHead {
        var headers: HTTPHeaders = ["Host": "h"]
        if let connection { headers.add("Connection", connection) }
        return HTTPRequestHead(method: "GET", target: "/", version: version, headers: headers)
    }

    @Test func http11PersistsUnlessClose() {
        #expect(request(.http1_1, nil).keepAlive)
        #expect(request(.http1_1, "keep-alive").keepAlive)
        #expect(request(.http1_1, "Upgrade").keepAlive)
        #expect(!request(.http1_1, "close").keepAlive)
        #expect(!request(.http1_1, "Keep-Alive, CLOSE").keepAlive)
    }

    @Test func http10PersistsOnlyWithKeepAlive() {
        #expect(!request(.http1_0, nil).keepAlive)
        #expect(request(.http1_0, "Keep-Alive").keepAlive)
        #expect(request(.http1_0, "TE, keep-alive").keepAlive)
        #expect(!request(.http1_0, "keep-alive, close").keepAlive)
        #expect(!request(.http1_0, "keep-alive-ish").keepAlive)
    }

    @Test func parsedHeadsApplyTheSameRules() {
        #expect(parseRequest("GET / HTTP/1.1\r\nHost: h\r\n\r\n").heads.first?.keepAlive == true)
        #expect(parseRequest("GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n").heads.first?.keepAlive == false)
        #expect(parseRequest("GET / HTTP/1.0\r\n\r\n").heads.first?.keepAlive == false)
        #expect(parseRequest("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n").heads.first?.keepAlive == true)
    }

    @Test func responsesFollowTheSameRules() {
        #expect(HTTPResponseHead(status: 200).keepAlive)
        #expect(!HTTPResponseHead(status: 200, headers: ["Connection": "close"]).keepAlive)
        #expect(!HTTPResponseHead(status: 200, version: .http1_0).keepAlive)
        #expect(HTTPResponseHead(status: 200, version: .http1_0, headers: ["connection": "keep-alive"]).keepAlive)
        #expect(parseResponse("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n").heads.first?.keepAlive == false)
    }
}
