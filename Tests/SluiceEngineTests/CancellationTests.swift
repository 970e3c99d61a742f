import SluiceHTTP
import SluiceMock
import SluiceTesting
import Testing

/// A client that leaves must cancel its upstream request at once, so nobody pays for unread tokens.
@Suite(.serialized)
struct CancellationTests {
    private func chatHead(_ port: Int, extra: [(String, String)] = []) -> HTTPRequestHead {
        var headers = HTTPHeaders([("host", "127.0.0.1:\(port)"), ("content-type", "application/json")])
        for (n, v) in extra { headers.add(n, v) }
        return HTTPRequestHead(method: "POST", target: "/v1/chat/completions", headers: headers)
    }

    @Test func clientLeavingMidStreamCancelsTheUpstream() throws {
        var settings = ProxyHarness.fastMock
        settings.tokens = 500
        settings.tokensPerSecond = 50  // a 10 s stream
        let proxy = try ProxyHarness(upstreamSettings: settings)
        defer { proxy.stop() }
        let client = try TestClient(port: proxy.port)
        try client.send(chatHead(proxy.port), body: Array(TestClient.chatRequest().utf8))
        _ = try client.readHead()
        var contentSeen = 0
        while contentSeen < 3, let item = try client.readItem() {
            if item.event?.data.contains("\"content\"") == true { contentSeen += 1 }
        }
        client.close()
        let cancelled = proxy.upstream.journal.wait(timeout: .seconds(5)) { $0.first?.ending == .cancelledByPeer }
        #expect(cancelled)
        let entry = try #require(proxy.upstream.journal.entries.first)
        #expect(entry.bodyStepsSent < entry.bodyStepsPlanned / 2, "the upstream went on streaming: \(entry.bodyStepsSent) of \(entry.bodyStepsPlanned)")
    }

    @Test func clientLeavingBeforeTheHeadCancelsTheUpstream() throws {
        let proxy = try ProxyHarness()
        defer { proxy.stop() }
        let client = try TestClient(port: proxy.port)
        try client.send(chatHead(proxy.port, extra: [("x-mock-head-delay", "3s")]), body: Array(TestClient.chatRequest().utf8))
        // Wait until the upstream has the request, then leave.
        #expect(proxy.upstream.journal.wait(timeout: .seconds(5)) { !$0.isEmpty })
        client.close()
        let cancelled = proxy.upstream.journal.wait(timeout: .seconds(2)) { $0.first?.ending == .cancelledByPeer }
        #expect(cancelled, "the upstream request outlived its client")
        #expect(proxy.upstream.journal.entries.first?.bodyStepsSent == 0)
    }
}
