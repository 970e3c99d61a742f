/// Why a `TestClient` call failed. Each case's text says what the client was waiting for, so a
/// failing test reads well without more context.
public enum TestClientError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The host is not a loopback address literal, or the connection was refused or timed out.
    case connectFailed(String)
    /// Writing the request failed (the peer closed or reset the connection).
    case sendFailed(String)
    /// The deadline passed while waiting for what the associated text names.
    case timedOut(String)
    /// The peer closed the connection before sending a response head.
    case closedBeforeHead
    /// The bytes received are not a valid HTTP response (the parser's reason).
    case malformedResponse(String)
    /// The client was used after `close()`.
    case closed

    /// What the client was waiting for or why it failed, for test failure messages.
    public var description: String {
        switch self {
        case .connectFailed(let why): "connect failed: \(why)"
        case .sendFailed(let why): "send failed: \(why)"
        case .timedOut(let what): "timed out waiting for \(what)"
        case .closedBeforeHead: "the peer closed the connection before sending a response head"
        case .malformedResponse(let why): "malformed response: \(why)"
        case .closed: "the client was already closed"
        }
    }
}
