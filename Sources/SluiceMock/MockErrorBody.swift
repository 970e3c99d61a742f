import SluiceFilterAPI

/// The JSON body of an error status the mock answers with, in the dialect of the endpoint.
///
/// OpenAI: `{"error":{"type":…,"message":…,"param":null,"code":null}}`.
/// Anthropic: `{"type":"error","error":{"type":…,"message":…}}`.
/// Both carry `error.type` and `error.message`, so a client can read either the same way.
enum MockErrorBody {
    static func json(status: Int, message: String, dialect: StreamDialect) -> [UInt8] {
        let type = JSONText.quoted(errorType(status: status, dialect: dialect))
        let message = JSONText.quoted(message)
        let json = switch dialect {
        case .anthropic: #"{"type":"error","error":{"type":\#(type),"message":\#(message)}}"#
        default: #"{"error":{"type":\#(type),"message":\#(message),"param":null,"code":null}}"#
        }
        return Array(json.utf8)
    }

    /// The error type each API uses for a status.
    static func errorType(status: Int, dialect: StreamDialect) -> String {
        switch status {
        case 400, 405, 422: return "invalid_request_error"
        case 401: return "authentication_error"
        case 403: return "permission_error"
        case 404: return dialect == .anthropic ? "not_found_error" : "invalid_request_error"
        case 413: return dialect == .anthropic ? "request_too_large" : "invalid_request_error"
        case 429: return "rate_limit_error"
        case 503, 529: return dialect == .anthropic ? "overloaded_error" : "server_error"
        case 500...: return dialect == .anthropic ? "api_error" : "server_error"
        default: return "invalid_request_error"
        }
    }
}
