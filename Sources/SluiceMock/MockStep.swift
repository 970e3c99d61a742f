import SluiceHTTP

/// One instruction for the mock server's plan executor. Steps run in order; only `wait`
/// takes time, every other step happens at once.
public enum MockStep: Sendable, Equatable {
    /// Write the response head. Appears at most once, before any `body` step.
    case head(HTTPResponseHead)
    /// Write payload bytes. The executor frames them: one chunk per step when the head says
    /// `Transfer-Encoding: chunked`, the bytes as they are otherwise (Content-Length or
    /// close-delimited bodies). Never empty.
    case body([UInt8])
    /// Pause this long before the next step. Never zero.
    case wait(Duration)
    /// Finish the message properly: the last chunk when chunked, nothing otherwise. Then the
    /// connection is kept for the next request when `MockPlan.keepAlive` is true, or closed.
    case end
    /// Close the connection cleanly (FIN) right now, without finishing the message.
    case close
    /// Abort the connection (RST, e.g. `SO_LINGER` 0 then close) right now.
    case reset
    /// Send nothing more and keep the connection open until the peer closes it.
    case stall
}

extension MockStep {
    // Spelled out because HTTPResponseHead is not Equatable: heads compare by version, status,
    // reason and headers (exact names, values and order).
    /// Steps compare by what they send and when.
    public static func == (lhs: MockStep, rhs: MockStep) -> Bool {
        switch (lhs, rhs) {
        case (.head(let a), .head(let b)):
            a.version == b.version && a.status == b.status && a.reason == b.reason && a.headers == b.headers
        case (.body(let a), .body(let b)): a == b
        case (.wait(let a), .wait(let b)): a == b
        case (.end, .end), (.close, .close), (.reset, .reset), (.stall, .stall): true
        default: false
        }
    }
}
