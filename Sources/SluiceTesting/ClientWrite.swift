import SluiceFilterAPI
import SluiceHTTP

/// One thing the client of an `EmbeddedExchange` was sent, in the order the engine would send it.
public enum ClientWrite: Sendable, Equatable {
    /// The response head: the upstream's as the filters left it, with `exchange.responseHeaders`
    /// and `x-request-id` set; a 200 `text/event-stream` head a comment sent first; a filter's
    /// `.reply` head or its own stream's head.
    case head(HTTPResponseHead)
    /// An SSE event of the response: as the upstream sent it in chains that forward bytes as they
    /// arrive, as the filters left it in chains where some filter rewrites events (added events
    /// from `.prepend` come first, as events of their own).
    case event(SSEEvent)
    /// `exchange.sendComment(text)`: the client got the line `": " + text` and a blank line.
    case comment(String)
    /// Body bytes that are not events: a response chunk as the chunk hooks left it, a `.reply`'s
    /// body, `exchange.writeOwnStream`.
    case bytes([UInt8])
    /// The error the exchange ended with, as the client got it: the whole error response when no
    /// head had been sent (`ProxyError.renderedResponse`), else the final SSE error event
    /// (`ProxyError.sseEvent`) before the connection closed.
    case error(ProxyError)
}
