/// The facts of one generated completion, from which every response shape is written.
struct MockCompletion: Sendable, Equatable {
    /// The model named in the response (the request's, else the settings').
    var model: String
    /// How many tokens the completion has (`MockTokens.token(at: 0..<tokenCount)`).
    var tokenCount: Int
    /// True when `max_tokens` cut the completion short of the configured length.
    var truncatedByMaxTokens: Bool
    /// The prompt size estimate reported in usage.
    var promptTokens: Int
    /// Whether a streamed OpenAI response ends with a usage chunk.
    var includeUsage: Bool

    /// `settings.tokens` capped by the request's `max_tokens`.
    init(request: MockGenerationRequest, settings: MockSettings) {
        model = request.model ?? settings.model
        tokenCount = min(settings.tokens, request.maxTokens ?? settings.tokens)
        truncatedByMaxTokens = tokenCount < settings.tokens
        promptTokens = request.promptTokens
        includeUsage = request.includeUsage
    }

    /// The whole completion text.
    var text: String { MockTokens.text(count: tokenCount) }
}
