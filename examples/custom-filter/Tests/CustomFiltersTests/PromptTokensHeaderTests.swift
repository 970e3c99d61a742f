import CustomFilters
import SluiceTesting
import Testing

/// `prompt_tokens_header`, the filter the guide (docs/writing-a-filter.md) builds.
@Suite struct PromptTokensHeaderTests {
    @Test func theResponseCarriesThePromptsEstimatedTokens() throws {
        let proxy = try ProxyHarness(chain: "- filter: prompt_tokens_header", registry: exampleRegistry())
        defer { proxy.stop() }
        let response = try TestClient.post(port: proxy.port, path: "/v1/chat/completions", json: TestClient.chatRequest())
        #expect(response.status == 200)
        // "hello from the sluice test client": 33 characters, so 9 tokens.
        #expect(response.head.headers["x-prompt-tokens"] == "9")
        #expect(proxy.upstream.journal.entries.count == 1)
    }

    @Test func theEstimateCountsEveryPartOfThePrompt() {
        let body = #"{"system":"abcd","messages":[{"role":"user","content":[{"type":"text","text":"efgh"}]},{"role":"assistant","content":"ij"}]}"#
        #expect(PromptTokensHeaderFilter.estimatedPromptTokens(Array(body.utf8)) == 3)
        #expect(PromptTokensHeaderFilter.estimatedPromptTokens(Array("not json".utf8)) == 0)
    }
}

/// The same filter's hook called directly with `FilterTestBench`, without a proxy.
@Suite struct PromptTokensHeaderUnitTests {
    @Test func onRequestBodyAddsTheHeader() throws {
        let filter = try FilterTestBench.makeFilter("prompt_tokens_header", config: "{ header: x-tokens }", registry: exampleRegistry())
        let exchange = FilterTestBench.makeExchange(body: Array(TestClient.chatRequest().utf8))
        guard case .next = filter.onRequestBody(exchange) else {
            Issue.record("expected .next")
            return
        }
        #expect(exchange.responseHeaders.map { "\($0.0): \($0.1)" } == ["x-tokens: 9"])
        #expect(filter.requestBodyLimit == 4 * 1024 * 1024)
    }

    @Test func aBadBodyLimitIsAConfigError() {
        let error = #expect(throws: FilterFileErrors.self) {
            try FilterTestBench.makeFilter("prompt_tokens_header", config: "{ body_limit: 0, headr: x }", registry: exampleRegistry())
        }
        #expect(error?.errors.count == 2)
    }
}
