import SluiceFilterAPI

/// The example's filter types, under the names filter files use.
public enum CustomFilters {
    /// Registers `api_key_auth`, `stream_redaction` and `prompt_tokens_header` into `registry`.
    /// Call it before the filter file is loaded; the built-ins can be in the same registry.
    public static func register(into registry: FilterRegistry) {
        registry.register("api_key_auth") { APIKeyAuthFilter($0) }
        registry.register("stream_redaction") { StreamRedactionFilter($0) }
        registry.register("prompt_tokens_header") { PromptTokensHeaderFilter($0) }
    }
}
