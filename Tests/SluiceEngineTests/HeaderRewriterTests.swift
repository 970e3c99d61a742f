@testable import SluiceEngine
import SluiceFilterAPI
import SluiceHTTP
import Testing

/// `HeaderRewriter.writeUpstreamRequest` writes what `upstreamRequest(...).write(into:)` writes, byte
/// for byte, whatever the client sent and a filter edited.
@Suite
struct HeaderRewriterTests {
    private static func parsed(_ text: String) throws -> HTTPRequestHead {
        var parser = HTTPRequestParser()
        var head: HTTPRequestHead?
        let bytes = Array(text.utf8)
        _ = try bytes.withUnsafeBytes { buffer in
            try parser.parse(buffer) { event in
                if case .head(let h) = event { head = h }
            }
        }
        return try #require(head)
    }

    private static func endpoint(basePath: String = "") -> UpstreamEndpoint {
        UpstreamEndpoint(id: "llm/http://10.0.0.5:8000", group: "llm", url: "http://10.0.0.5:8000", host: "10.0.0.5", port: 8000,
                         basePath: basePath, tls: nil, serverName: nil, authority: "10.0.0.5:8000", index: 0)
    }

    private static func exchange(_ request: HTTPRequestHead, id: String = "req-1", secure: Bool = false) -> Exchange {
        Exchange(id: id, request: request, client: ClientInfo(address: "192.0.2.7", port: 5000, secure: secure, listener: "main"),
                 route: RouteInfo(name: "r", chain: "c", upstreamGroup: "llm"), dialect: .openai, clock: SystemClock(), worker: 0)
    }

    private static func bothWays(_ request: HTTPRequestHead, basePath: String = "", framing: UpstreamBodyFraming,
                                 allowUnderscores: Bool, secure: Bool = false) -> (built: [UInt8], written: [UInt8]) {
        let exchange = exchange(request, secure: secure)
        let endpoint = endpoint(basePath: basePath)
        var built: [UInt8] = []
        HeaderRewriter.upstreamRequest(from: request, exchange: exchange, endpoint: endpoint, bodyFraming: framing,
                                       allowUnderscores: allowUnderscores).write(into: &built)
        var written: [UInt8] = []
        HeaderRewriter.writeUpstreamRequest(request, exchange: exchange, endpoint: endpoint, bodyFraming: framing,
                                            allowUnderscores: allowUnderscores, into: &written)
        return (built, written)
    }

    @Test func writingEqualsBuildingThenWriting() throws {
        let heads = [
            "POST /v1/chat/completions HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\nContent-Length: 12\r\n\r\n",
            "GET /x?y=1 HTTP/1.1\r\nhost:  spaced  \r\nConnection: keep-alive, X-Drop, x-forwarded-for\r\nX-Drop: 1\r\n"
                + "X-Forwarded-For: 198.51.100.1\r\nX_Under: 2\r\nTE: trailers\r\nProxy-Authorization: secret\r\n\r\n",
            "POST /v1 HTTP/1.0\r\nX-Forwarded-For: 198.51.100.1\r\nX-Forwarded-Host: spoofed\r\nContent-Length: 3\r\n"
                + "X-Request-Id: abc\r\nUpgrade: h2c\r\nKeep-Alive: 5\r\n\r\n",
            "POST /v1 HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-For:\r\nAccept: */*\r\nCONTENT-LENGTH: 0\r\nX-Forwarded-Proto: https\r\n\r\n",
        ]
        for text in heads {
            var head = try Self.parsed(text)
            for framing in [UpstreamBodyFraming.none, .contentLength(12), .chunked] {
                for allow in [false, true] {
                    for basePath in ["", "/openai"] {
                        let (built, written) = Self.bothWays(head, basePath: basePath, framing: framing, allowUnderscores: allow)
                        #expect(written == built, "\(text.debugDescription) \(framing) \(allow) \(basePath)")
                    }
                }
            }
            // As a filter may have left it: fields added, some not tokens or with line breaks in them.
            head.headers.add("X-Added", "plain")
            head.headers.add("Bad Name", "dropped")
            head.headers.add("X-Split", "a\r\nInjected: yes")
            head.headers.set("Host", "edited")
            head.method = "PO ST"
            head.target = "/with space"
            let (built, written) = Self.bothWays(head, framing: .contentLength(3), allowUnderscores: false, secure: true)
            #expect(written == built, "edited \(text.debugDescription)")
        }
    }

    @Test func aHeadWithoutHostGetsNoForwardedHostAndKeepsTheClients() {
        let head = HTTPRequestHead(method: "GET", target: "/", version: .http1_1, headers: ["X-Forwarded-Host": "kept"])
        let (built, written) = Self.bothWays(head, framing: .none, allowUnderscores: false)
        #expect(written == built)
        #expect(String(decoding: written, as: UTF8.self).contains("X-Forwarded-Host: kept\r\n"))
    }
}
