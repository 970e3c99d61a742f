import Foundation
import SluiceConfig
import SluiceEngine
import SluiceFilters
import SluiceHTTP
import SluiceTesting
import Testing

/// The console on the admin listener: `/admin/events` (snapshots over SSE, with backpressure),
/// `GET /` (the page), and the guard that keeps other web pages from using it. Real sockets.
@Suite(.serialized)
struct ConsoleTests {
    /// A chain with a queue (one stream at a time) and a breaker, so snapshots have figures to show.
    static let chain = """
        - filter: admission
          config: { max_active_streams: 1, queue: { max_length: 5, max_wait: 60s } }
        - filter: circuit_breaker
          config: { failures: 3, window: 60s, open_duration: 5m }
        """

    /// Opens `/admin/events` and returns the client after reading the head.
    static func follow(_ port: Int, receiveBuffer: Int? = nil) throws -> TestClient {
        let client = try receiveBuffer.map { try TestClient(port: port, receiveBuffer: $0) } ?? TestClient(port: port)
        try client.sendRaw(Array("GET /admin/events HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\n\r\n".utf8))
        return client
    }

    /// Reads snapshots until one satisfies `condition` (or `timeout` passes: then throws).
    static func snapshot(from client: TestClient, within timeout: Duration = .seconds(10),
                         until condition: ([String: Any]) -> Bool) throws -> [String: Any] {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            guard let item = try client.readItem(timeout: deadline - ContinuousClock.now) else { break }
            guard let event = item.event, event.event == "snapshot" else { continue }
            let snapshot = try #require(try JSONSerialization.jsonObject(with: Data(event.data.utf8)) as? [String: Any])
            if condition(snapshot) { return snapshot }
        }
        throw TestClientError.timedOut("a snapshot that matches")
    }

    /// Sends one admin request with extra header lines and returns the answer.
    static func admin(_ port: Int, _ method: String, _ path: String, host: String? = nil, _ fields: [String] = []) throws -> TestResponse {
        let client = try TestClient(port: port)
        defer { client.close() }
        let extra = fields.map { $0 + "\r\n" }.joined()
        try client.sendRaw(Array("\(method) \(path) HTTP/1.1\r\nHost: \(host ?? "127.0.0.1:\(port)")\r\n\(extra)Content-Length: 0\r\n\r\n".utf8))
        return try client.readResponse()
    }

    private static func streams(_ s: [String: Any]) -> [[String: Any]] { s["streams"] as? [[String: Any]] ?? [] }

    private static func filter(_ s: [String: Any], _ name: String) -> [String: Any]? {
        let chains = s["chains"] as? [[String: Any]] ?? []
        return chains.flatMap { $0["filters"] as? [[String: Any]] ?? [] }.first { $0["name"] as? String == name }
    }

    private static func figure(_ filter: [String: Any]?, _ metric: String) -> Double? {
        (filter?["figures"] as? [[String: Any]])?.first { $0["metric"] as? String == metric }?["value"] as? Double
    }

    @Test func theFeedShowsTheProcessStreamsRoutesFiltersAndReloads() throws {
        let path = ProxyHarness.temporaryFilterFilePath()
        let proxy = try ProxyHarness(filterFile: ProxyHarness.filterFile(chain: Self.chain), path: path,
                                     upstreamSettings: MetricsTests.longStreams) { $0.consoleInterval = .milliseconds(50) }
        defer { proxy.stop() }
        let adminPort = try #require(proxy.adminPort)
        let feed = try Self.follow(adminPort)
        defer { feed.close() }
        let head = try feed.readHead()
        #expect(head.status == 200)
        #expect(head.headers["content-type"] == "text/event-stream")
        #expect(head.headers["cache-control"] == "no-store")

        let first = try MetricsTests.startStream(proxy.port)
        defer { first.close() }
        _ = try first.readHead()
        let second = try MetricsTests.startStream(proxy.port)
        defer { second.close() }
        let live = try Self.snapshot(from: feed) { Self.streams($0).count == 2 && Self.figure(Self.filter($0, "admission"), "sluice_admission_queue_length") == 1 }

        #expect(Self.streams(live).compactMap { $0["state"] as? String }.sorted() == ["queued", "streaming"])
        let process = try #require(live["process"] as? [String: Any])
        #expect(process["chain_version"] as? Int == 1)
        #expect((process["workers"] as? [Any])?.count == 2)
        #expect((process["open_connections"] as? Int ?? 0) >= 2)
        #expect(process["max_connections"] as? Int == 10000)
        #expect(process["draining"] as? Bool == false)
        #expect(process["version"] as? String == SluiceVersion.text)
        let route = try #require((live["routes"] as? [[String: Any]])?.first)
        #expect(route["name"] as? String == "all")
        #expect(route["active"] as? Int == 2)
        let chain = try #require((live["chains"] as? [[String: Any]])?.first)
        #expect(chain["name"] as? String == "main")
        #expect((chain["filters"] as? [[String: Any]])?.compactMap { $0["type"] as? String } == ["admission", "circuit_breaker"])
        #expect(Self.figure(Self.filter(live, "admission"), "sluice_admission_in_flight") == 1)
        let waited = (Self.filter(live, "admission")?["live"] as? [[String: Any]])?.first { $0["name"] as? String == "longest_wait_ms" }
        #expect((waited?["value"] as? Double ?? -1) >= 0)
        let breakers = try #require(Self.filter(live, "circuit_breaker")?["breakers"] as? [[String: Any]])
        #expect(breakers.first?["state"] as? String == "closed")
        #expect((breakers.first?["endpoint"] as? String)?.hasPrefix("fake/") == true)

        // The streams end: the route's figures count them, with their time to first token.
        first.close()
        second.close()
        let ended = try Self.snapshot(from: feed) { s in
            Self.streams(s).isEmpty && ((s["routes"] as? [[String: Any]])?.first?["requests"] as? Int) == 2
        }
        let counted = try #require((ended["routes"] as? [[String: Any]])?.first)
        #expect((counted["outcome_totals"] as? [String: Any])?["client_gone"] as? Int == 2)
        let ttft = try #require(counted["ttft_ms"] as? [String: Any])
        #expect(ttft["count"] as? Int == 1)  // the queued one never got a token
        #expect((ttft["p50"] as? Double ?? 0) > 0)
        #expect((counted["requests_per_s"] as? Double ?? 0) > 0)

        // A reload that fails shows its positioned errors; one that works shows the new version.
        try "listeners: [\n".write(toFile: path, atomically: true, encoding: .utf8)
        _ = proxy.engine.reload()
        let failed = try Self.snapshot(from: feed) { (($0["reload"] as? [String: Any])?["last"] as? [String: Any]) != nil }
        let reload = try #require(failed["reload"] as? [String: Any])
        #expect(reload["path"] as? String == path)
        #expect(reload["failed"] as? Int == 1)
        let last = try #require(reload["last"] as? [String: Any])
        #expect(last["ok"] as? Bool == false)
        let errors = last["errors"] as? [String] ?? []
        #expect(errors.contains { $0.hasPrefix("\(path):") && $0.split(separator: ":").count >= 4 }, "\(errors)")
        _ = try proxy.reload(filterFile: ProxyHarness.filterFile(chain: Self.chain))
        let reloaded = try Self.snapshot(from: feed) { ($0["process"] as? [String: Any])?["chain_version"] as? Int == 2 }
        #expect(((reloaded["reload"] as? [String: Any])?["last"] as? [String: Any])?["version"] as? Int == 2)
    }

    @Test func bucketLevelsAndTheRetryBudgetShowAsLiveFigures() throws {
        let proxy = try ProxyHarness(filterFile: ProxyHarness.filterFile(chain: """
            - filter: token_bucket
              config: { key: { header: x-api-key }, capacity: 4, refill_per_second: 0 }
            - filter: retry
              config: { budget_min: 3, budget_ratio: 0.5 }
            """), upstreamSettings: MetricsTests.longStreams) { $0.consoleInterval = .milliseconds(50) }
        defer { proxy.stop() }
        let short = TestClient.chatRequest(stream: false)
        for _ in 0..<4 {
            #expect(try TestClient.post(port: proxy.port, path: "/v1/chat/completions", json: short,
                                        headers: [("x-api-key", "drained"), ("x-mock-tokens", "1")]).status == 200)
        }
        // One stream stays in flight on a fresh key.
        let streaming = try TestClient.startLongStream(port: proxy.port, headers: [("x-api-key", "fresh")])
        defer { streaming.close() }
        #expect(try streaming.readHead().status == 200)
        let feed = try Self.follow(try #require(proxy.adminPort))
        defer { feed.close() }
        func live(_ s: [String: Any], _ filter: String) -> [String] {
            (Self.filter(s, filter)?["live"] as? [[String: Any]] ?? []).map { "\($0["name"] ?? "")=\($0["value"] ?? "")" }
        }
        let snapshot = try Self.snapshot(from: feed) { Self.streams($0).count == 1 }
        #expect(live(snapshot, "token_bucket") == ["buckets=2", "buckets_near_empty=1", "lowest_bucket_percent=0"])
        // max(3, ⌊0.5 × 1⌋) places, none taken, one request in flight.
        #expect(live(snapshot, "retry") == ["retrying=0", "budget_allowance=3", "requests_in_flight=1"])
    }

    @Test func aFollowerThatStopsReadingMissesSnapshotsInsteadOfCostingMemory() throws {
        let proxy = try ProxyHarness(filterFile: ProxyHarness.filterFile(chain: Self.chain)) { $0.consoleInterval = .milliseconds(1) }
        defer { proxy.stop() }
        let adminPort = try #require(proxy.adminPort)
        let stalled = try Self.follow(adminPort, receiveBuffer: 4096)
        // Reads nothing from here on.
        let deadline = ContinuousClock.now + .seconds(60)
        while proxy.engine.consoleFeedStats.dropped == 0, ContinuousClock.now < deadline {
            Thread.sleep(forTimeInterval: 0.05)
        }
        let stats = proxy.engine.consoleFeedStats
        #expect(stats.dropped > 0)
        #expect(stats.followers == 1)
        // At most the watermark plus the one snapshot that crossed it.
        #expect(stats.largestBacklog < 256 * 1024 + 64 * 1024, "\(stats)")
        // A reading follower beside it still gets fresh snapshots.
        let reader = try Self.follow(adminPort)
        defer { reader.close() }
        _ = try Self.snapshot(from: reader) { _ in true }
        stalled.close()
        while proxy.engine.consoleFeedStats.followers > 1, ContinuousClock.now < deadline {
            Thread.sleep(forTimeInterval: 0.02)
        }
        #expect(proxy.engine.consoleFeedStats.followers == 1)
    }

    @Test func theFeedTakesAtMostSixtyFourFollowers() throws {
        let proxy = try ProxyHarness(chain: Self.chain)
        defer { proxy.stop() }
        let adminPort = try #require(proxy.adminPort)
        var followers: [TestClient] = []
        defer { for f in followers { f.close() } }
        for _ in 0..<64 {
            let f = try Self.follow(adminPort)
            #expect(try f.readHead().status == 200)
            followers.append(f)
        }
        let refused = try Self.follow(adminPort)
        defer { refused.close() }
        let answer = try refused.readResponse()
        #expect(answer.status == 503)
        #expect(answer.head.headers["retry-after"] == "5")
        // One leaves: there is room again.
        followers.removeFirst().close()
        let deadline = ContinuousClock.now + .seconds(10)
        while proxy.engine.consoleFeedStats.followers > 63, ContinuousClock.now < deadline { Thread.sleep(forTimeInterval: 0.02) }
        let again = try Self.follow(adminPort)
        followers.append(again)
        #expect(try again.readHead().status == 200)
    }

    @Test func thePageIsOneSelfContainedDocumentWithItsTokenAndNonce() throws {
        let proxy = try ProxyHarness(chain: Self.chain)
        defer { proxy.stop() }
        let page = try proxy.admin("GET", "/")
        #expect(page.status == 200)
        #expect(page.head.headers["content-type"] == "text/html; charset=utf-8")
        let html = page.bodyText
        #expect(html.hasPrefix("<!doctype html>"))
        // Nothing is fetched from elsewhere: no external script, style sheet, image or font.
        for outside in ["<link", " src=", "@import", "url(", "https://", "cdn"] {
            #expect(!html.lowercased().contains(outside), "\(outside)")
        }
        let csp = try #require(page.head.headers["content-security-policy"])
        let nonce = try #require(csp.split(separator: "'").first { $0.hasPrefix("nonce-") }).dropFirst(6)
        #expect(html.contains("<script nonce=\"\(nonce)\">") && html.contains("<style nonce=\"\(nonce)\">"))
        #expect(csp.contains("connect-src 'self'") && csp.contains("frame-ancestors 'none'"))
        #expect(page.head.headers["x-frame-options"] == "DENY")
        let token = try #require(html.firstRange(of: "name=\"sluice-csrf\" content=\"").map { html[$0.upperBound...].prefix(32) })
        let isHex = token.allSatisfy { $0.isHexDigit }
        #expect(isHex)
        // The nonce is fresh for every page; the token is the process's.
        let again = try proxy.admin("GET", "/")
        #expect(!(again.head.headers["content-security-policy"] ?? "").contains(String(nonce)))
        #expect(again.bodyText.contains("content=\"\(token)\""))
        #expect(try proxy.admin("POST", "/").status == 405)
        #expect(try proxy.admin("POST", "/admin/events").status == 405)
    }

    @Test func aReloadFromABrowserNeedsTheSameOriginAndThePagesToken() throws {
        let path = ProxyHarness.temporaryFilterFilePath()
        let proxy = try ProxyHarness(filterFile: ProxyHarness.filterFile(), path: path)
        defer { proxy.stop() }
        let port = try #require(proxy.adminPort)
        let html = try proxy.admin("GET", "/").bodyText
        let token = try #require(html.firstRange(of: "name=\"sluice-csrf\" content=\"").map { String(html[$0.upperBound...].prefix(32)) })
        let origin = "Origin: http://127.0.0.1:\(port)"
        // Another site's form or script.
        #expect(try Self.admin(port, "POST", "/admin/reload", ["Origin: http://evil.example", "Sec-Fetch-Site: cross-site"]).status == 403)
        #expect(try Self.admin(port, "POST", "/admin/reload", ["Sec-Fetch-Site: same-site"]).status == 403)
        #expect(try Self.admin(port, "POST", "/admin/reload", ["Origin: http://evil.example", "x-sluice-csrf: \(token)"]).status == 403)
        // The console's own origin, but no token or a wrong one (its first character changed, so
        // it differs whatever the random token is).
        let wrongToken = (token.first == "0" ? "1" : "0") + token.dropFirst()
        #expect(try Self.admin(port, "POST", "/admin/reload", [origin, "Sec-Fetch-Site: same-origin"]).status == 403)
        #expect(try Self.admin(port, "POST", "/admin/reload", [origin, "Sec-Fetch-Site: same-origin", "x-sluice-csrf: \(wrongToken)"]).status == 403)
        // The console's reload button.
        let reloaded = try Self.admin(port, "POST", "/admin/reload", [origin, "Sec-Fetch-Site: same-origin", "x-sluice-csrf: \(token)"])
        #expect(reloaded.status == 200)
        #expect(reloaded.bodyText == "{\"version\":2}\n")
        // Command-line clients send neither Origin nor Sec-Fetch-Site, and need no token.
        #expect(try proxy.admin("POST", "/admin/reload").status == 200)
        // A page on another name pointed at loopback (DNS rebinding) cannot read the listener.
        let rebound = try Self.admin(port, "GET", "/admin/streams", host: "evil.example:\(port)", ["Sec-Fetch-Site: same-origin"])
        #expect(rebound.status == 403)
        #expect(try Self.admin(port, "GET", "/", host: "localhost:\(port)", ["Sec-Fetch-Site: none"]).status == 200)
        #expect(try Self.admin(port, "GET", "/", host: "[::1]:\(port)", ["Sec-Fetch-Site: none"]).status == 200)
    }

    @Test func withBasicAuthTheBrowserIsAskedForCredentialsForThePageAndTheFeed() throws {
        setenv("SLUICE_TEST_CONSOLE_PASSWORD", "pa55", 1)
        defer { unsetenv("SLUICE_TEST_CONSOLE_PASSWORD") }
        let file = ProxyHarness.filterFile().replacingOccurrences(
            of: "admin:\n  address: 127.0.0.1:0\n",
            with: "admin:\n  address: 127.0.0.1:0\n  auth:\n    username: ops\n    password_env: SLUICE_TEST_CONSOLE_PASSWORD\n")
        let proxy = try ProxyHarness(filterFile: file)
        defer { proxy.stop() }
        let port = try #require(proxy.adminPort)
        for path in ["/", "/admin/events"] {
            let refused = try Self.admin(port, "GET", path, ["Sec-Fetch-Site: none"])
            #expect(refused.status == 401, "\(path)")
            #expect(refused.head.headers["www-authenticate"]?.hasPrefix("Basic ") == true)
        }
        let credentials = "Authorization: Basic " + Data("ops:pa55".utf8).base64EncodedString()
        #expect(try Self.admin(port, "GET", "/", ["Sec-Fetch-Site: none", credentials]).status == 200)
        // With auth, a browser may use a name: the credentials are what protects the listener.
        #expect(try Self.admin(port, "GET", "/", host: "sluice-admin.internal:\(port)", ["Sec-Fetch-Site: none", credentials]).status == 200)
        let feed = try TestClient(port: port)
        defer { feed.close() }
        try feed.sendRaw(Array("GET /admin/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\(credentials)\r\n\r\n".utf8))
        #expect(try feed.readHead().status == 200)
        _ = try Self.snapshot(from: feed) { _ in true }
    }
}
