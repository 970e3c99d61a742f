import SluiceHTTP
import SluiceMock
import SluiceTesting
import Testing

/// A client that sends a whole request and then shuts down its sending side (`shutdown(SHUT_WR)`)
/// still gets its response, streamed or not, and then the connection closes (issue 12, item 7). A
/// client that half-closes before its request is complete has abandoned it.
@Suite(.serialized)
struct HalfCloseTests {
    @Test func aWholeRequestThenHalfCloseGetsItsResponse() throws {
        // Before: the end of stream cancelled the exchange, and the client got nothing.
        let proxy = try ProxyHarness()
        defer { proxy.stop() }
        let client = try TestClient(port: proxy.port)
        defer { client.close() }
        try client.send(chatCompletionsHead(proxy.port), body: Array(TestClient.chatRequest(stream: false).utf8))
        client.shutdownSending()
        let response = try client.readResponse(timeout: .seconds(10))
        #expect(response.status == 200)
        #expect(response.ending == .complete)
        #expect(response.bodyText.contains("\"choices\""))
        #expect(response.head.headers["connection"] == "close")
        #expect(client.isClosedByPeer(within: .seconds(3)))
    }

    @Test func aStreamedResponseAfterHalfCloseArrivesWhole() throws {
        var settings = ProxyHarness.fastMock
        settings.tokens = 20
        let proxy = try ProxyHarness(upstreamSettings: settings)
        defer { proxy.stop() }
        let client = try TestClient(port: proxy.port)
        defer { client.close() }
        // The head waits a little, so the end of stream surely comes before it.
        try client.send(chatCompletionsHead(proxy.port, extra: [("x-mock-head-delay", "200ms")]), body: Array(TestClient.chatRequest().utf8))
        client.shutdownSending()
        let response = try client.readResponse(timeout: .seconds(10))
        #expect(response.status == 200)
        #expect(response.ending == .complete)
        #expect(response.events.contains { $0.event?.data == "[DONE]" })
        #expect(response.events.filter { $0.event?.data.contains("\"content\"") == true }.count == 20)
        #expect(client.isClosedByPeer(within: .seconds(3)))
        #expect(proxy.upstream.journal.wait(timeout: .seconds(5)) { $0.first?.ending == .finished })
    }

    @Test func halfCloseBeforeTheBodyIsCompleteAbandonsTheRequest() throws {
        let proxy = try ProxyHarness()
        defer { proxy.stop() }
        let client = try TestClient(port: proxy.port)
        defer { client.close() }
        var head = chatCompletionsHead(proxy.port)
        head.headers.add("content-length", "1000")
        try client.send(head)
        try client.sendRaw(Array("{\"model\":".utf8))
        client.shutdownSending()
        // No response: the connection closes, and no complete request reached the upstream.
        let bytes = try client.readUntilClosed(timeout: .seconds(5))
        #expect(!String(decoding: bytes, as: UTF8.self).hasPrefix("HTTP/1.1 200"))
        #expect(proxy.upstream.journal.entries.allSatisfy { $0.ending != .finished })
    }

    @Test func theHalfClosedClientGetsAnInterim102ThenTheResponseAndAnHTTP10ClientNoInterim() throws {
        let proxy = try ProxyHarness()
        defer { proxy.stop() }
        let body = TestClient.chatRequest(stream: false)
        for version in ["1.1", "1.0"] {
            let client = try TestClient(port: proxy.port)
            defer { client.close() }
            try client.sendRaw(Array(("POST /v1/chat/completions HTTP/\(version)\r\nHost: x\r\nContent-Type: application/json\r\n"
                + "x-mock-head-delay: 200ms\r\nContent-Length: \(body.utf8.count)\r\n\r\n" + body).utf8))
            client.shutdownSending()
            let text = String(decoding: try client.readUntilClosed(timeout: .seconds(10)), as: UTF8.self)
            if version == "1.1" {
                #expect(text.hasPrefix("HTTP/1.1 102 Processing\r\n\r\nHTTP/1.1 200 "), "\(text.prefix(80))")
            } else {
                #expect(text.hasPrefix("HTTP/1.1 200 "), "\(text.prefix(80))")
            }
            #expect(text.contains("\"choices\""))
        }
    }
}
