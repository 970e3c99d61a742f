/// The `type` label of `sluice_upstream_error_events_total`: the error type an upstream named in an
/// error event of its stream, kept to a closed set so an upstream cannot grow the series count.
enum UpstreamErrorType {
    /// The types OpenAI's and Anthropic's APIs document for errors (and vLLM's usual classes, in
    /// their lowercase spelling); any other type reads `other`, no type at all `none`.
    static let known: Set<String> = [
        // Anthropic.
        "invalid_request_error", "authentication_error", "permission_error", "not_found_error", "request_too_large",
        "rate_limit_error", "api_error", "overloaded_error", "timeout_error",
        // OpenAI (error.type, or error.code where the type is generic).
        "server_error", "rate_limit_exceeded", "insufficient_quota", "context_length_exceeded", "invalid_api_key",
        "model_not_found", "requests", "tokens",
        // vLLM.
        "badrequesterror", "internalservererror", "notfounderror",
    ]

    /// The label for `type` (as `LLMEventInfo.errorType` reports it).
    static func label(_ type: String?) -> String {
        guard let type else { return "none" }
        let lowered = type.lowercased()
        return known.contains(lowered) ? lowered : "other"
    }
}
