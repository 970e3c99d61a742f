import SluiceTesting
import Testing

/// Ambiguous framing is refused with 400 and a closed connection, and never reaches the upstream.
@Suite(.serialized)
struct SmugglingTests {
    static let shapes: [(String, String, Int)] = [
        ("CL and TE together", "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
        ("differing duplicate CL", "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\nabcde", 400),
        ("bad chunk size", "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n", 400),
        ("obs-fold", "GET /v1/models HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n  folded\r\n\r\n", 400),
        ("bare CR", "GET /v1/models HTTP/1.1\r\nHost: x\rX-A: 1\r\n\r\n", 400),
        ("bare CR at field line start", "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n\rX: y\r\nContent-Length: 35\r\n\r\nGET /SMUGGLED HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        ("space before colon", "GET /v1/models HTTP/1.1\r\nHost: x\r\nContent-Length : 0\r\n\r\n", 400),
        ("TE not chunked last", "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n", 400),
        ("signed CL", "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: +4\r\n\r\nabcd", 400),
        ("missing Host", "GET /v1/models HTTP/1.1\r\n\r\n", 400),
        ("HTTP/2.0 in an HTTP/1 request", "GET /v1/models HTTP/2.0\r\nHost: x\r\n\r\n", 505),
    ]

    @Test(arguments: shapes.indices)
    func rejectsAmbiguousFraming(index: Int) throws {
        let (name, raw, status) = Self.shapes[index]
        let proxy = try ProxyHarness()
        defer { proxy.stop() }
        let client = try TestClient(port: proxy.port)
        defer { client.close() }
        try client.sendRaw(Array(raw.utf8))
        let bytes = try client.readUntilClosed(timeout: .seconds(5))
        let text = String(decoding: bytes, as: UTF8.self)
        #expect(text.hasPrefix("HTTP/1.1 \(status) "), "\(name): \(text)")
        #expect(text.lowercased().contains("connection: close"), "\(name)")
        #expect(proxy.upstream.journal.entries.isEmpty, "\(name) reached the upstream")
    }

    @Test func oversizedHeadersGet431() throws {
        let proxy = try ProxyHarness()
        defer { proxy.stop() }
        let client = try TestClient(port: proxy.port)
        defer { client.close() }
        let big = String(repeating: "a", count: 40 * 1024)
        try client.sendRaw(Array("GET /v1/models HTTP/1.1\r\nHost: x\r\nX-Big: \(big)\r\n\r\n".utf8))
        let text = String(decoding: try client.readUntilClosed(timeout: .seconds(5)), as: UTF8.self)
        #expect(text.hasPrefix("HTTP/1.1 431 "))
    }

    @Test func oversizedBodyGets413() throws {
        let proxy = try ProxyHarness()
        defer { proxy.stop() }
        let client = try TestClient(port: proxy.port)
        defer { client.close() }
        try client.sendRaw(Array("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 999999999\r\n\r\n".utf8))
        let text = String(decoding: try client.readUntilClosed(timeout: .seconds(5)), as: UTF8.self)
        #expect(text.hasPrefix("HTTP/1.1 413 "))
        #expect(proxy.upstream.journal.entries.isEmpty)
    }
}
