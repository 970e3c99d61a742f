/// The API routes the mock backend answers.
enum MockEndpoint: Sendable, Equatable {
    /// `POST /v1/chat/completions`, OpenAI chat.
    case chatCompletions
    /// `POST /v1/completions`, OpenAI legacy text completions.
    case completions
    /// `POST /v1/messages`, Anthropic messages.
    case messages
    /// `GET /v1/models`, the model list.
    case models

    /// Why a request matched no endpoint.
    enum RouteFailure: Error, Sendable, Equatable {
        /// No endpoint has this path (404).
        case notFound
        /// The path exists but not with this method (405); `allowed` is the `Allow` header value.
        case methodNotAllowed(allowed: String)
    }

    /// The endpoint for a method and a path (the target without its query).
    static func route(method: String, path: Substring) -> Result<MockEndpoint, RouteFailure> {
        let endpoint: MockEndpoint
        switch path {
        case "/v1/chat/completions": endpoint = .chatCompletions
        case "/v1/completions": endpoint = .completions
        case "/v1/messages": endpoint = .messages
        case "/v1/models": endpoint = .models
        default: return .failure(.notFound)
        }
        guard method == endpoint.method else { return .failure(.methodNotAllowed(allowed: endpoint.method)) }
        return .success(endpoint)
    }

    /// The one method the endpoint accepts.
    var method: String { self == .models ? "GET" : "POST" }
}
