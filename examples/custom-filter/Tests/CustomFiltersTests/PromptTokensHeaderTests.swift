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
