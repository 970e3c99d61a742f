/// How one command ended, as its completion hears it.
public enum RedisOutcome: Sendable, Equatable {
    /// The server answered (an error reply included: `.reply(.error(…))`).
    case reply(RESPValue)
    /// No answer within the command's timeout. The command may still run on the server.
    case timeout
    /// The command could not be sent, or its connection was lost before the answer: the server is
    /// down, unreachable, refused the handshake, or sent bytes that are not RESP.
    case unavailable(String)

    /// The value of a reply that is not an error reply.
    public var value: RESPValue? {
        if case .reply(let value) = self, value.errorMessage == nil { return value }
        return nil
    }
}
