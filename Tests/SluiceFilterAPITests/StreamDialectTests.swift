import Testing
@testable import SluiceFilterAPI

@Suite struct StreamDialectTests {
    @Test(arguments: [
        "/v1/messages", "/messages", "/anthropic/v1/messages", "/v1/messages?beta=true",
        "/v1/messages/", "/v1/messages#x",
    ])
    func anthropicPaths(_ path: String) {
        #expect(StreamDialect.forPath(path) == .anthropic)
    }

    @Test(arguments: [
        "/v1/chat/completions", "/v1/completions", "/v1/responses", "/api/chat", "/completion",
        "/v1/messages/count_tokens", "/v1/chat/completions?x=/messages", "/", "", "/v1/Messages",
        "/v1/mymessages",
    ])
    func openAIPaths(_ path: String) {
        #expect(StreamDialect.forPath(path) == .openai)
    }

    @Test func acceptsSubstrings() {
        let target = "GET /v1/messages HTTP/1.1"
        let path = target.split(separator: " ")[1]
        #expect(StreamDialect.forPath(path) == .anthropic)
    }
}
