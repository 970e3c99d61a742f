/// Token counts reported by an upstream, normalized across dialects.
public struct TokenUsage: Sendable, Equatable {
    /// All prompt tokens the model processed. OpenAI: `prompt_tokens` (or the Responses API's
    /// `input_tokens`), which already includes cached tokens. Anthropic: `input_tokens` plus
    /// `cache_creation_input_tokens` plus `cache_read_input_tokens`, since Anthropic's
    /// `input_tokens` counts only the uncached part. nil when the event did not say.
    public var promptTokens: Int?
    /// Generated tokens: OpenAI `completion_tokens` (`output_tokens` in the Responses API),
    /// Anthropic `output_tokens` from `message_delta` (cumulative for the message so far).
    public var completionTokens: Int?

    /// The sum when both parts are known, else nil (half a total would read as a whole one).
    /// Also nil if the sum overflows: the counts come from upstreams, which are not trusted.
    public var totalTokens: Int? {
        guard let promptTokens, let completionTokens else { return nil }
        let (sum, overflow) = promptTokens.addingReportingOverflow(completionTokens)
        return overflow ? nil : sum
    }

    /// Usage with the counts the upstream reported; nil for a count it did not report.
    public init(promptTokens: Int? = nil, completionTokens: Int? = nil) {
        self.promptTokens = promptTokens
        self.completionTokens = completionTokens
    }

    /// This usage updated by a later report: each count the later one knows replaces ours.
    /// Streams report cumulative counts, so the latest figure is the right one.
    public func merged(with later: TokenUsage) -> TokenUsage {
        TokenUsage(
            promptTokens: later.promptTokens ?? promptTokens,
            completionTokens: later.completionTokens ?? completionTokens
        )
    }
}
