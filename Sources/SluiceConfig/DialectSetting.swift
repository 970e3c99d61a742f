/// Which LLM API a route's traffic speaks (`dialect`), which decides how its streams are read.
public enum DialectSetting: String, Sendable, CaseIterable {
    /// Decide per request from its path and headers. The default.
    case auto
    /// OpenAI-style chat completions and responses.
    case openai
    /// Anthropic-style messages.
    case anthropic
}
