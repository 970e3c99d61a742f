/// The persistence rule of RFC 9112 section 9.3, shared by request and response heads.
enum KeepAlive {
    /// HTTP/1.1 persists unless "Connection: close"; HTTP/1.0 only with "Connection: keep-alive" and no "close".
    /// Any other version never persists.
    static func allows(version: HTTPVersion, headers: HTTPHeaders) -> Bool {
        if headers.containsToken("close", in: .connection) { return false }
        if version == .http1_1 { return true }
        if version == .http1_0 { return headers.containsToken("keep-alive", in: .connection) }
        return false
    }
}
