import SluiceTesting
import Testing

@Suite(.serialized)
struct ClientLimitsTests {
    private func proxy(limits: String) throws -> ProxyHarness {
        try proxyWithLimits(limits)
    }

    @Test func slowRequestHeadGets408() throws {
        let proxy = try proxy(limits: "  client_header_timeout: 1s")
        defer { proxy.stop() }
        let client = try TestClient(port: proxy.port)
        defer { client.close() }
        try client.sendRaw(Array("GET /v1/models HTTP/1.1\r\nHost: x\r\n".utf8))  // never finished
        let text = String(decoding: try client.readUntilClosed(timeout: .seconds(5)), as: UTF8.self)
        #expect(text.hasPrefix("HTTP/1.1 408 "))
        #expect(proxy.upstream.journal.entries.isEmpty)
    }

    @Test func idleKeepAliveConnectionIsClosed() throws {
        let proxy = try proxy(limits: "  client_keepalive_timeout: 200ms")
        defer { proxy.stop() }
        let client = try TestClient(port: proxy.port)
        defer { client.close() }
        try client.sendRaw(Array("GET /v1/models HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
        #expect(try client.readResponse().status == 200)
        #expect(client.isClosedByPeer(within: .seconds(3)))
    }

    @Test func connectionsOverTheLimitAreClosed() throws {
        let proxy = try proxy(limits: "  max_connections: 2")
        defer { proxy.stop() }
        let a = try TestClient(port: proxy.port)
        let b = try TestClient(port: proxy.port)
        defer { a.close(); b.close() }
        // Make sure both are accepted before the third arrives.
        try a.sendRaw(Array("GET /v1/models HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
        try b.sendRaw(Array("GET /v1/models HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
        #expect(try a.readResponse().status == 200)
        #expect(try b.readResponse().status == 200)
        let c = try TestClient(port: proxy.port)
        defer { c.close() }
        #expect(c.isClosedByPeer(within: .seconds(3)))
        a.close()
        // A slot freed: a new connection is served.
        #expect(proxy.engine.openConnectionCount <= 2)
    }
}
