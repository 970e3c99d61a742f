import Foundation
import SluiceHTTP
import SluiceTesting
import Testing

@Suite(.serialized)
struct KeepAliveTests {
    private func post(_ client: TestClient, port: Int, json: String) throws -> TestResponse {
        let head = HTTPRequestHead(method: "POST", target: "/v1/chat/completions",
                                   headers: HTTPHeaders([("host", "127.0.0.1:\(port)"), ("content-type", "application/json")]))
        try client.send(head, body: Array(json.utf8))
        return try client.readResponse()
    }

    @Test func clientConnectionAndUpstreamConnectionAreBothReused() throws {
        // One worker, so both requests share one upstream pool.
        let proxy = try ProxyHarness(workers: 1)
        defer { proxy.stop() }
        let client = try TestClient(port: proxy.port)
        defer { client.close() }
        let first = try post(client, port: proxy.port, json: TestClient.chatRequest())
        let second = try post(client, port: proxy.port, json: TestClient.chatRequest(stream: false))
        #expect(first.ending == .complete)
        #expect(second.ending == .complete)
        #expect(second.status == 200)
        let entries = proxy.upstream.journal.entries
        #expect(entries.count == 2)
        #expect(entries.map(\.connection) == [0, 0], "the second request should reuse the pooled upstream connection")
        #expect(proxy.upstream.journal.connectionCount == 1)
    }

    /// `client_keepalive_timeout` counts from the end of the last response: a client that sends a
    /// request every 0.3 s keeps its connection past the timeout (the idle timer, left armed across
    /// requests, finds it busy or idle for less and waits on), and an idle one is closed by it.
    @Test func aClientThatKeepsSendingKeepsItsConnectionAndAnIdleOneIsClosed() throws {
        let proxy = try ProxyHarness(filterFile: ProxyHarness.filterFile().replacingOccurrences(
            of: "listeners:", with: "limits:\n  client_keepalive_timeout: 1s\nlisteners:"), workers: 1)
        defer { proxy.stop() }
        let client = try TestClient(port: proxy.port)
        defer { client.close() }
        // Nine requests 0.3 s apart: 2.4 s in all on one connection, never idle for 1 s.
        for i in 0..<9 {
            if i > 0 { Thread.sleep(forTimeInterval: 0.3) }
            #expect(try post(client, port: proxy.port, json: TestClient.chatRequest(stream: false)).status == 200)
        }
        #expect(client.isClosedByPeer(within: .seconds(5)))
    }

    @Test func pipelinedRequestsAreAnsweredInOrder() throws {
        let proxy = try ProxyHarness(workers: 1)
        defer { proxy.stop() }
        let client = try TestClient(port: proxy.port)
        defer { client.close() }
        let body = TestClient.chatRequest(stream: false, maxTokens: 2)
        let one = "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)"
        let models = "GET /v1/models HTTP/1.1\r\nHost: x\r\n\r\n"
        try client.sendRaw(Array((one + models).utf8))
        let first = try client.readResponse()
        let second = try client.readResponse()
        #expect(first.status == 200)
        #expect(first.bodyText.contains("chat.completion"))
        #expect(second.status == 200)
        #expect(second.bodyText.contains("\"object\":\"list\""))
    }

    @Test func connectionCloseIsHonoured() throws {
        let proxy = try ProxyHarness()
        defer { proxy.stop() }
        let client = try TestClient(port: proxy.port)
        defer { client.close() }
        try client.sendRaw(Array("GET /v1/models HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".utf8))
        let response = try client.readResponse()
        #expect(response.status == 200)
        #expect(response.head.headers["connection"] == "close")
        #expect(client.isClosedByPeer(within: .seconds(2)))
    }
}
