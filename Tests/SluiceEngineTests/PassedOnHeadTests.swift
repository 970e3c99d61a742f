@testable import SluiceEngine
import SluiceHTTP
import Testing

/// An upstream's head passed on to the client is written without editing a copy of it
/// (`ClientResponseWriter.passedOnHeadBytes`): the bytes, the framing and the keep-alive answer must
/// be exactly those of the general path (the filters' fields added to a copy, the request id set,
/// `headBytes`), for every shape of head, added fields, method and client.
@Suite struct PassedOnHeadTests {
    static func head(_ status: Int, _ fields: [(String, String)]) -> HTTPResponseHead {
        var head = HTTPResponseHead(status: status, reason: status == 200 ? "OK" : nil)
        for (name, value) in fields { head.headers.add(name, value) }
        return head
    }

    static let heads: [HTTPResponseHead] = [
        head(200, [("Content-Type", "application/json"), ("Content-Length", "42"), ("X-Request-Id", "theirs"),
                   ("Connection", "keep-alive"), ("Keep-Alive", "timeout=5"), ("Server", "up")]),
        head(200, [("content-type", "text/event-stream"), ("transfer-encoding", "chunked"), ("cache-control", "no-cache")]),
        head(200, [("ratelimit-limit", "100"), ("content-length", "0"), ("set-cookie", "a=1"), ("set-cookie", "b=2")]),
        head(204, [("content-length", "0"), ("date", "now")]),
        head(304, [("etag", "\"x\"")]),
        head(200, [("Connection", "close"), ("content-type", "text/plain")]),
        head(200, [("Connection", "x-hop, close"), ("x-hop", "1"), ("content-length", "3")]),
        head(503, [("retry-after", "1"), ("Trailer", "x"), ("Upgrade", "h2c"), ("Proxy-Authenticate", "Basic")]),
    ]

    static let added: [[(String, String)]] = [
        [],
        [("RateLimit-Limit", "10"), ("RateLimit-Remaining", "9"), ("RateLimit-Reset", "60")],
        [("x-a", "1"), ("X-A", "2"), ("set-cookie", "c=3")],
        [("ratelimit-limit", "7")],
        [("bad name", "v"), ("x-b", "line\r\nbreak")],
        [("Content-Length", "5")],
        [("x-request-id", "mine")],
        [("Connection", "close")],
    ]

    @Test func theBytesFramingAndKeepAliveAreThoseOfTheGeneralPath() {
        var passedOn = 0
        var compared = 0
        for head in Self.heads {
            for added in Self.added {
                for method in ["GET", "POST", "HEAD"] {
                    for version in [HTTPVersion.http1_1, .http1_0] {
                        for keepAlive in [true, false] {
                            for passLength in [true, false] {
                                var fast = ClientResponseWriter()
                                let bytes = fast.passedOnHeadBytes(
                                    head, added: added, requestID: "req-1", requestMethod: method, clientVersion: version,
                                    clientKeepAlive: keepAlive, passContentLength: passLength)
                                compared += 1
                                guard let bytes else { continue }
                                passedOn += 1
                                var edited = head
                                HeaderRewriter.addResponseFields(added, to: &edited.headers)
                                edited.headers.set("x-request-id", "req-1")
                                var general = ClientResponseWriter()
                                let expected = general.headBytes(
                                    edited, requestMethod: method, clientVersion: version, clientKeepAlive: keepAlive,
                                    passContentLength: passLength)
                                let shape = "\(head.status) \(head.headers) + \(added) \(method) \(version) keep=\(keepAlive) pass=\(passLength)"
                                #expect(String(decoding: bytes, as: UTF8.self) == String(decoding: expected, as: UTF8.self), "\(shape)")
                                #expect(fast.framing == general.framing, "\(shape)")
                                #expect(fast.keepAlive == general.keepAlive, "\(shape)")
                            }
                        }
                    }
                }
            }
        }
        // Most shapes take the passed-on path; the ones it leaves (a name the rules decide added)
        // are compared in the next test.
        #expect(passedOn > compared / 2, "\(passedOn) of \(compared)")
    }

    @Test func addedNamesTheRulesDecideTakeTheGeneralPath() {
        var writer = ClientResponseWriter()
        for added in [[("content-length", "1")], [("X-Request-ID", "x")], [("transfer-encoding", "gzip")]] {
            #expect(writer.passedOnHeadBytes(Self.heads[1], added: added, requestID: "r", requestMethod: "GET",
                                             clientVersion: .http1_1, clientKeepAlive: true, passContentLength: true) == nil)
        }
        // Connection naming a field a filter adds, or the request id.
        #expect(writer.passedOnHeadBytes(Self.heads[6], added: [("x-hop", "2")], requestID: "r", requestMethod: "GET",
                                         clientVersion: .http1_1, clientKeepAlive: true, passContentLength: true) == nil)
        let namesTheID = Self.head(200, [("Connection", "X-Request-Id"), ("x-request-id", "u")])
        #expect(writer.passedOnHeadBytes(namesTheID, added: [], requestID: "r", requestMethod: "GET",
                                         clientVersion: .http1_1, clientKeepAlive: true, passContentLength: true) == nil)
    }
}
