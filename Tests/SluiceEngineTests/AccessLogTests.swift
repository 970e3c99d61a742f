import Foundation
import SluiceConfig
import SluiceEngine
import SluiceFilters
import SluiceTesting
import Testing

/// The access log: one JSON (or key=value) line per exchange, written by its own thread to the
/// file the filter file names, with no secrets in it.
@Suite(.serialized)
struct AccessLogTests {
    private static func file(log: String, chain: String = "[]") -> String {
        """
        listeners:
          - name: test
            address: 127.0.0.1:0
        admin:
          address: 127.0.0.1:0
        access_log:
        \(log.split(separator: "\n").map { "  " + $0 }.joined(separator: "\n"))
        upstreams:
          fake:
            endpoints: ["{{upstream}}"]
        routes:
          - name: chat
            path_prefix: /v1/
            chain: main
            upstream: fake
        chains:
          main: \(chain)
        """
    }

    private static func logPath() -> String {
        AccessLogFile().path
    }

    /// The log's lines once it has `count` of them (the writer thread flushes within ~200 ms).
    private func lines(_ path: String, count: Int) -> [String] {
        AccessLogFile(path: path).lines(count: count)
    }

    private func json(_ line: String) throws -> [String: Any] {
        try AccessLogFile.json(line)
    }

    @Test func eachExchangeIsOneJSONLineWithItsFigures() throws {
        let log = Self.logPath()
        let proxy = try ProxyHarness(filterFile: Self.file(log: "output: \(log)"))
        defer { proxy.stop() }
        let ok = try TestClient.post(port: proxy.port, path: "/v1/chat/completions", json: TestClient.chatRequest(includeUsage: true),
                                     headers: [("x-request-id", "req-ok-1")])
        #expect(ok.status == 200)
        let cut = try TestClient.post(port: proxy.port, path: "/v1/chat/completions", json: TestClient.chatRequest(),
                                      headers: [("x-request-id", "req-cut-2"), ("x-mock-reset-after", "2")])
        #expect(cut.status == 200)
        let found = lines(log, count: 2)
        #expect(found.count == 2)
        let entries = try found.map(json)
        let first = try #require(entries.first { $0["request_id"] as? String == "req-ok-1" })
        #expect(first["status"] as? Int == 200)
        #expect(first["outcome"] as? String == "completed")
        #expect(first["level"] as? String == "info")
        #expect(first["route"] as? String == "chat")
        #expect(first["client"] as? String == "127.0.0.1")
        #expect(first["method"] as? String == "POST")
        #expect(first["path"] as? String == "/v1/chat/completions")
        #expect((first["endpoint"] as? String)?.hasPrefix("fake/http://127.0.0.1:") == true)
        #expect(first["tokens_out"] as? Int == 10)
        #expect(first["tokens_in"] as? Int == 6)
        #expect(first["tokens_source"] as? String == "usage")
        #expect(first["retries"] as? Int == 0)
        #expect(first["stream"] as? Bool == true)
        #expect(first["decided_by"] is NSNull)
        #expect(first["error"] is NSNull)
        let ttft = try #require(first["ttft_ms"] as? Double)
        let duration = try #require(first["duration_ms"] as? Double)
        #expect(ttft > 0 && ttft <= duration)
        #expect((first["time"] as? String)?.hasSuffix("Z") == true)

        let second = try #require(entries.first { $0["request_id"] as? String == "req-cut-2" })
        #expect(second["outcome"] as? String == "truncated")
        #expect(second["level"] as? String == "warning")
        #expect(second["error"] as? String == "upstream_reset")
        #expect(second["tokens_out"] as? Int == 2)
        #expect(second["tokens_source"] as? String == "counted")
        #expect(second["tokens_in"] is NSNull)
    }

    @Test func noKeyOrAuthorizationValueEverReachesTheLog() throws {
        let log = Self.logPath()
        let chain = "[{ filter: token_bucket, config: { key: { header: x-api-key }, capacity: 1, refill_per_second: 0 } }]"
        let proxy = try ProxyHarness(filterFile: Self.file(log: "output: \(log)", chain: chain))
        defer { proxy.stop() }
        let secrets = [("authorization", "Bearer sk-bearer-secret-1"), ("x-api-key", "sk-header-secret-2")]
        let path = "/v1/chat/completions?key=sk-query-secret-3"
        #expect(try TestClient.post(port: proxy.port, path: path, json: TestClient.chatRequest(), headers: secrets).status == 200)
        let refused = try TestClient.post(port: proxy.port, path: path, json: TestClient.chatRequest(), headers: secrets)
        #expect(refused.status == 429)
        let found = lines(log, count: 2)
        #expect(found.count == 2)
        for line in found {
            #expect(!line.contains("sk-bearer-secret-1"))
            #expect(!line.contains("sk-header-secret-2"))
            #expect(!line.contains("sk-query-secret-3"))
            #expect(try json(line)["path"] as? String == "/v1/chat/completions")
        }
        let rejected = try json(found[1])
        #expect(rejected["status"] as? Int == 429)
        #expect(rejected["outcome"] as? String == "rejected")
        #expect(rejected["decided_by"] as? String == "token_bucket")
        #expect(rejected["error"] as? String == "rate_limited")
    }

    @Test func levelWarningKeepsOnlyExchangesThatDidNotComplete() throws {
        let log = Self.logPath()
        let proxy = try ProxyHarness(filterFile: Self.file(log: "output: \(log)\nlevel: warning\nformat: text"))
        defer { proxy.stop() }
        #expect(try TestClient.post(port: proxy.port, path: "/v1/chat/completions", json: TestClient.chatRequest()).status == 200)
        #expect(try TestClient.post(port: proxy.port, path: "/v1/chat/completions", json: TestClient.chatRequest(),
                                    headers: [("x-mock-close-after", "1"), ("x-request-id", "cut")]).status == 200)
        // Each exchange's line is queued when it ends, before its client has read the last byte, and
        // the writer keeps their order: a wrongly written info line would stand before this one.
        let all = lines(log, count: 1)
        #expect(all.count == 1)
        let line = try #require(all.first)
        #expect(line.contains("request_id=cut"))
        #expect(line.contains("outcome=truncated"))
        #expect(line.contains("level=warning"))
        #expect(!line.hasPrefix("{"))
    }

    @Test func aReloadMovesTheLogToItsNewFile() throws {
        let first = Self.logPath()
        let second = Self.logPath()
        let proxy = try ProxyHarness(filterFile: Self.file(log: "output: \(first)"), path: ProxyHarness.temporaryFilterFilePath())
        defer { proxy.stop() }
        #expect(try TestClient.post(port: proxy.port, path: "/v1/chat/completions", json: TestClient.chatRequest()).status == 200)
        #expect(lines(first, count: 1).count == 1)
        #expect((try? proxy.reload(filterFile: Self.file(log: "output: \(second)")).get()) == 2)
        #expect(try TestClient.post(port: proxy.port, path: "/v1/chat/completions", json: TestClient.chatRequest()).status == 200)
        #expect(lines(second, count: 1).count == 1)
        #expect(lines(first, count: 1).count == 1)
    }

    @Test func badAccessLogSettingsArePositionedErrors() throws {
        let text = Self.file(log: "output: /no/such/dir/access.log\nformat: xml\ncolour: blue").replacingOccurrences(
            of: "{{upstream}}", with: "http://127.0.0.1:9")
        guard case .failure(let errors) = FilterFileLoading.parse(text: text, path: "f.yaml", registry: BuiltinFilters.registry()) else {
            Issue.record("the file should not load")
            return
        }
        let messages = errors.errors.map(\.description)
        #expect(messages.contains { $0.hasPrefix("f.yaml:7:11: ") && $0.contains("its directory does not exist") })
        #expect(messages.contains { $0.hasPrefix("f.yaml:8:11: ") && $0.contains("xml") })
        #expect(messages.contains { $0.hasPrefix("f.yaml:9:3: ") && $0.contains("colour") })
    }
}

extension AccessLogTests {
    /// A client that leaves mid-stream is logged as gone with error kind `client_closed`, not as a bad request.
    @Test func aClientThatLeavesIsLoggedAsClosedNotAsABadRequest() throws {
        let log = Self.logPath()
        let proxy = try ProxyHarness(filterFile: Self.file(log: "output: \(log)"), upstreamSettings: MetricsTests.longStreams)
        defer { proxy.stop() }
        let client = try MetricsTests.startStream(proxy.port)
        _ = try client.readHead()
        _ = try client.readItem()
        client.close()
        let entry = try json(try #require(lines(log, count: 1).first))
        #expect(entry["outcome"] as? String == "client_gone")
        #expect(entry["error"] as? String == "client_closed")
    }
}
