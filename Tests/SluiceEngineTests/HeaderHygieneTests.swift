import SluiceTesting
import Testing

/// What crosses the proxy in headers: proxy credentials and challenges never do, and names with `_` reach the
/// upstream only when the filter file allows them.
@Suite(.serialized)
struct HeaderHygieneTests {
    private static let request = """
        POST /v1/chat/completions HTTP/1.1\r
        Host: x\r
        Content-Type: application/json\r
        Proxy-Authorization: Basic c2VjcmV0OnNlY3JldA==\r
        Transfer_Encoding: chunked\r
        X_Api_Key: k\r
        X-Kept: yes\r
        Content-Length: 2\r
        \r
        {}
        """

    @Test func proxyCredentialsAndUnderscoreNamesDoNotReachTheUpstream() throws {
        let proxy = try ProxyHarness()
        defer { proxy.stop() }
        let client = try TestClient(port: proxy.port)
        defer { client.close() }
        try client.sendRaw(Array(Self.request.utf8))
        #expect(try client.readResponse().status == 200)
        let seen = try #require(proxy.upstream.journal.entries.first).head.headers
        #expect(seen["proxy-authorization"] == nil)
        #expect(seen["transfer_encoding"] == nil)
        #expect(seen["x_api_key"] == nil)
        #expect(seen["x-kept"] == "yes")
    }

    @Test func underscoreNamesPassWhenTheLimitsAllowThem() throws {
        let file = ProxyHarness.filterFile().replacingOccurrences(
            of: "upstreams:", with: "limits:\n  allow_underscores_in_headers: true\nupstreams:")
        let proxy = try ProxyHarness(filterFile: file)
        defer { proxy.stop() }
        let client = try TestClient(port: proxy.port)
        defer { client.close() }
        try client.sendRaw(Array(Self.request.utf8))
        #expect(try client.readResponse().status == 200)
        let seen = try #require(proxy.upstream.journal.entries.first).head.headers
        #expect(seen["x_api_key"] == "k")
        #expect(seen["transfer_encoding"] == "chunked")
        #expect(seen["proxy-authorization"] == nil)
    }

    @Test func anUpstreamProxyChallengeDoesNotReachTheClient() throws {
        let upstream = try CannedUpstream(response: Array(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nProxy-Authenticate: Basic realm=\"inner\"\r\nX-Kept: yes\r\nContent-Length: 2\r\n\r\n{}".utf8))
        defer { upstream.stop() }
        let file = ProxyHarness.filterFile().replacingOccurrences(of: "{{upstream}}", with: "http://127.0.0.1:\(upstream.port)")
        let proxy = try ProxyHarness(filterFile: file)
        defer { proxy.stop() }
        let response = try TestClient.post(port: proxy.port, path: "/v1/chat/completions", json: "{}")
        #expect(response.status == 200)
        #expect(response.head.headers["proxy-authenticate"] == nil)
        #expect(response.head.headers["x-kept"] == "yes")
    }
}
