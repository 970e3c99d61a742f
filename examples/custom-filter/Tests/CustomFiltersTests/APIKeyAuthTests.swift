import CustomFilters
import Foundation
import SluiceTesting
import Testing

/// `api_key_auth` over real sockets, in front of the fake upstream.
@Suite struct APIKeyAuthTests {
    private func proxy(keys: String, extraConfig: String = "", chainAfter: String = "") throws -> ProxyHarness {
        try ProxyHarness(chain: """
            - filter: api_key_auth
              config:
                keys_file: \(keys)
            \(extraConfig)
            \(chainAfter)
            """, registry: exampleRegistry())
    }

    @Test func aRequestWithoutAKnownKeyGets401InTheOpenAIShapeAndNeverReachesTheUpstream() throws {
        let proxy = try proxy(keys: try writeKeysFile())
        defer { proxy.stop() }
        for headers in [[], bearer("sk-wrong"), [("x-api-key", "sk-wrong")], [("authorization", "Basic \(TestKeys.alice)")]] {
            let response = try TestClient.post(port: proxy.port, path: "/v1/chat/completions",
                                               json: TestClient.chatRequest(), headers: headers)
            #expect(response.status == 401)
            #expect(response.head.headers["www-authenticate"] == "Bearer")
            let error = jsonObject(response.bodyText)?["error"] as? [String: Any]
            #expect(error?["type"] as? String == "authentication_error")
            #expect(error?["code"] as? String == "invalid_api_key")
            #expect((error?["message"] as? String)?.isEmpty == false)
            #expect(!response.bodyText.contains("sk-"), "the answer must not echo a key")
        }
        #expect(proxy.upstream.journal.entries.isEmpty)
        // The filter's own counter is on /metrics, and no key is.
        let metrics = try proxy.metrics(within: .seconds(5)) { $0.value("sluice_requests_total") == 4 }
        #expect(metrics.value("example_auth_refused_total", ["chain": "main", "filter": "api_key_auth"]) == 4)
        #expect(metrics.value("sluice_filter_decisions_total", ["filter": "api_key_auth"]) == 4)
        #expect(!metrics.text.contains("sk-wrong"))
    }

    @Test func anAnthropicClientGets401InTheAnthropicShape() throws {
        let proxy = try proxy(keys: try writeKeysFile())
        defer { proxy.stop() }
        let response = try TestClient.post(port: proxy.port, path: "/v1/messages", json: messagesRequest(),
                                           headers: [("x-api-key", "sk-wrong")])
        #expect(response.status == 401)
        let body = jsonObject(response.bodyText)
        #expect(body?["type"] as? String == "error")
        #expect((body?["error"] as? [String: Any])?["type"] as? String == "authentication_error")
    }

    @Test func aKnownKeyStreamsAndTheUpstreamSeesTheClientNotTheKey() throws {
        let proxy = try proxy(keys: try writeKeysFile())
        defer { proxy.stop() }
        // A client claiming another identity in the identity header gets its own instead.
        let response = try TestClient.post(port: proxy.port, path: "/v1/chat/completions", json: TestClient.chatRequest(),
                                           headers: bearer(TestKeys.alice) + [("x-sluice-client", "bob")])
        #expect(response.status == 200)
        #expect(response.ending == .complete)
        #expect(response.sseEvents.last?.data == "[DONE]")
        let seen = try #require(proxy.upstream.journal.entries.first)
        #expect(seen.head.headers.values("x-sluice-client") == ["alice"])
        #expect(seen.head.headers["authorization"] == nil)
    }

    @Test func anAnthropicClientAuthenticatesWithXAPIKey() throws {
        let proxy = try proxy(keys: try writeKeysFile())
        defer { proxy.stop() }
        let response = try TestClient.post(port: proxy.port, path: "/v1/messages", json: messagesRequest(),
                                           headers: [("x-api-key", TestKeys.bob)])
        #expect(response.status == 200)
        #expect(response.sseEvents.last?.event == "message_stop")
        let seen = try #require(proxy.upstream.journal.entries.first)
        #expect(seen.head.headers["x-sluice-client"] == "bob")
        #expect(seen.head.headers["x-api-key"] == nil)
    }

    @Test func theUpstreamKeyReplacesTheClientsKey() throws {
        setenv("SLUICE_EXAMPLE_TEST_UPSTREAM_KEY", "sk-upstream-9999", 1)
        let proxy = try proxy(keys: try writeKeysFile(), extraConfig: "    upstream_key_env: SLUICE_EXAMPLE_TEST_UPSTREAM_KEY")
        defer { proxy.stop() }
        let response = try TestClient.post(port: proxy.port, path: "/v1/chat/completions", json: TestClient.chatRequest(),
                                           headers: bearer(TestKeys.alice))
        #expect(response.status == 200)
        let seen = try #require(proxy.upstream.journal.entries.first)
        #expect(seen.head.headers["authorization"] == "Bearer sk-upstream-9999")
    }

    @Test func eachClientHasItsOwnTokenBucketSharedByAllItsKeys() throws {
        let proxy = try proxy(keys: try writeKeysFile(), chainAfter: """
            - filter: token_bucket
              config: { key: { header: x-sluice-client }, capacity: 1, refill_per_second: 0 }
            """)
        defer { proxy.stop() }
        func post(_ key: String) throws -> Int {
            try TestClient.post(port: proxy.port, path: "/v1/chat/completions", json: TestClient.chatRequest(),
                                headers: bearer(key)).status
        }
        #expect(try post(TestKeys.alice) == 200)
        #expect(try post(TestKeys.aliceSecond) == 429, "alice's second key draws from alice's bucket")
        #expect(try post(TestKeys.bob) == 200, "bob has a bucket of his own")
        #expect(try post(TestKeys.bob) == 429)
        #expect(proxy.upstream.journal.entries.map { $0.head.headers["x-sluice-client"] } == ["alice", "bob"])
    }

    @Test func aBadKeysFileIsReportedByPathLineAndColumnWithoutTheKey() throws {
        let keys = try writeKeysFile("""
            sk-good-1 alice
            sk-lonely-key
            sk-good-1 bob
            sk-good-2 not/a/name
            """)
        let error = #expect(throws: (any Error).self) { try proxy(keys: keys) }
        let text = error.map { "\($0)" } ?? ""
        #expect(text.contains("\(keys):2:1: expected 'KEY CLIENT'"), "\(text)")
        #expect(text.contains("\(keys):3:1: this key is already given at line 1"), "\(text)")
        #expect(text.contains("\(keys):4:11: client name 'not/a/name'"), "\(text)")
        #expect(!text.contains("sk-"), "messages must not contain keys: \(text)")
    }

    @Test func aMissingKeysFileIsAConfigError() throws {
        let error = #expect(throws: (any Error).self) { try proxy(keys: "/nonexistent/keys.txt") }
        #expect("\(error.map { "\($0)" } ?? "")".contains("/nonexistent/keys.txt:1:1: cannot read the keys file"))
    }

    @Test func aRelativeKeysFileIsFoundNextToTheFilterFileAndReadAgainOnReload() throws {
        let directory = try temporaryDirectory()
        try keysFileText.write(toFile: directory + "/keys.txt", atomically: true, encoding: .utf8)
        let file = """
            listeners: [{ address: 127.0.0.1:0 }]
            upstreams: { fake: { endpoints: ["{{upstream}}"] } }
            routes: [{ name: all, path_prefix: /, chain: main, upstream: fake }]
            chains:
              main:
                - filter: api_key_auth
                  config: { keys_file: keys.txt }

            """
        let proxy = try ProxyHarness(filterFile: file, path: directory + "/sluice.yaml", registry: exampleRegistry())
        defer { proxy.stop() }
        func status(_ key: String) throws -> Int {
            try TestClient.post(port: proxy.port, path: "/v1/chat/completions", json: TestClient.chatRequest(stream: false),
                                headers: bearer(key)).status
        }
        #expect(try status(TestKeys.bob) == 200)
        #expect(try status("sk-new-4444") == 401)

        // A new key, bob's removed: the reload reads the keys file again.
        try "sk-new-4444 carol\n".write(toFile: directory + "/keys.txt", atomically: true, encoding: .utf8)
        guard case .success = try proxy.reload(filterFile: file) else { Issue.record("reload failed"); return }
        #expect(try status("sk-new-4444") == 200)
        #expect(try status(TestKeys.bob) == 401)

        // A broken keys file fails the reload, and the keys in force stay.
        try "sk-broken\n".write(toFile: directory + "/keys.txt", atomically: true, encoding: .utf8)
        guard case .failure(let errors) = try proxy.reload(filterFile: file) else { Issue.record("reload succeeded"); return }
        #expect(errors.description.contains("keys.txt:1:1:"))
        #expect(try status("sk-new-4444") == 200)
    }
}

/// `api_key_auth`'s `onRequest` called directly with `FilterTestBench`.
@Suite struct APIKeyAuthUnitTests {
    @Test func aKnownKeyBecomesTheIdentityHeaderAndAnUnknownOneA401Reply() throws {
        let filter = try FilterTestBench.makeFilter("api_key_auth", config: "{ keys_file: \(try writeKeysFile()) }",
                                                    registry: exampleRegistry())
        let known = FilterTestBench.makeExchange(headers: bearer(TestKeys.bob))
        guard case .next = filter.onRequest(known) else { Issue.record("expected .next"); return }
        #expect(known.request.headers["x-sluice-client"] == "bob")
        #expect(known.request.headers["authorization"] == nil)

        let unknown = FilterTestBench.makeExchange(headers: bearer("sk-nope"))
        guard case .reply(let head, _) = filter.onRequest(unknown) else { Issue.record("expected .reply"); return }
        #expect(head.status == 401)
    }
}
