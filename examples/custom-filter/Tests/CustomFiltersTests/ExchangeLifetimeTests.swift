import CustomFilters
import SluiceTesting
import Testing

/// None of the example's filters keeps an exchange alive once it ended, however it ended: their
/// per-exchange state (held text of `stream_redaction`) goes with the exchange. Each case runs one
/// exchange through the three filters and waits for a weak reference to it
/// (`ExchangeLifetimeProbe`, last in the chain) to become nil.
@Suite(.serialized)
struct ExchangeLifetimeTests {
    enum Ending: String, CaseIterable, Sendable {
        case completed, upstreamErrorStatus, truncated, clientGone, rejected
    }

    @Test(arguments: Ending.allCases)
    func anEndedExchangeIsFreed(_ ending: Ending) throws {
        let probe = ExchangeLifetimeProbe()
        let registry = exampleRegistry()
        registry.register("lifetime_probe") { _ in probe }
        let proxy = try ProxyHarness(chain: """
            - filter: api_key_auth
              config: { keys_file: \(try writeKeysFile()) }
            - filter: prompt_tokens_header
            - filter: stream_redaction
              config: { literals: [juliet kilo] }
            - filter: lifetime_probe
            """, registry: registry, workers: 1)
        defer { proxy.stop() }
        let json = TestClient.chatRequest()
        let alice = bearer(TestKeys.alice)
        switch ending {
        case .completed:
            let r = try TestClient.post(port: proxy.port, path: "/v1/chat/completions", json: json, headers: alice)
            #expect(r.status == 200 && r.ending == .complete)
        case .upstreamErrorStatus:
            let r = try TestClient.post(port: proxy.port, path: "/v1/chat/completions", json: json,
                                        headers: alice + [("x-mock-status", "503")])
            #expect(r.status == 503)
        case .truncated:
            // Cut while the redaction holds text back.
            let r = try TestClient.post(port: proxy.port, path: "/v1/chat/completions", json: json,
                                        headers: alice + [("x-mock-reset-after", "10")])
            #expect(r.status == 200 && r.ending != .complete)
        case .clientGone:
            let client = try TestClient(port: proxy.port)
            try client.send(HTTPRequestHead(method: "POST", target: "/v1/chat/completions", headers: HTTPHeaders([
                ("host", "x"), ("content-type", "application/json"), ("x-mock-tokens", "400"), ("x-mock-tps", "20"),
            ] + alice)), body: Array(json.utf8))
            _ = try client.readHead()
            _ = try client.readItem()
            client.close()
            let gone = try proxy.metrics(within: .seconds(10)) { $0.value("sluice_requests_total", ["outcome": "client_gone"]) == 1 }
            #expect(gone.value("sluice_requests_total", ["outcome": "client_gone"]) == 1)
        case .rejected:
            let r = try TestClient.post(port: proxy.port, path: "/v1/chat/completions", json: json,
                                        headers: alice + [("x-test-reject", "1")])
            #expect(r.status == 429)
        }
        #expect(probe.count == 1)
        #expect(probe.waitUntilAllFreed(within: .seconds(5)), "the exchange outlived its end (\(ending.rawValue))")
    }
}
