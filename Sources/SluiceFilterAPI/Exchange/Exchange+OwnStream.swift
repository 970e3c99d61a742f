import SluiceHTTP

// A response a filter streams itself, instead of an upstream's: a replay of kept events, say. The
// filter suspends the request, then begins the stream, writes whole SSE events as it has them, and
// ends it (or fails it, with `fail`, for an error event and a cut).
extension Exchange {
    /// Sends `head` (a 200 `text/event-stream`, usually) and makes the response a stream of the
    /// filter's own: no upstream is asked. Answers false, and does nothing, unless the exchange is
    /// suspended in a request phase with nothing sent yet: call it after the hook answered
    /// `.suspend` (from a timer, `executeOnLoop`, or a shared store's callback), never from inside
    /// that hook. The body is chunked (or closes the connection for HTTP/1.0); `responseHeaders`
    /// and `x-request-id` are added as to any response. Loop thread only.
    public func beginOwnStream(_ head: HTTPResponseHead) -> Bool {
        driver?.beginOwnStream(head) ?? false
    }

    /// Writes `bytes`, whole SSE events, to a stream `beginOwnStream` began. Ignored for any other
    /// exchange and once it ended. There is no backpressure: what the client does not read yet
    /// waits in its buffer, so write what is bounded already (a kept stream). Loop thread only.
    public func writeOwnStream(_ bytes: [UInt8]) {
        driver?.writeOwnStream(bytes)
    }

    /// Ends a stream `beginOwnStream` began, properly (the last chunk): the exchange completes and
    /// `onComplete` runs. Ignored for any other exchange and once it ended. To end it as cut
    /// instead, call `fail`. Loop thread only.
    public func endOwnStream() {
        driver?.endOwnStream()
    }

    /// Runs `body` on this exchange's loop thread, from any thread (its own included: then after
    /// the running callback returns). Nothing runs once the exchange was freed; `body` must still
    /// check that what it does makes sense then (the exchange may have ended).
    public func executeOnLoop(_ body: @escaping @Sendable () -> Void) {
        loop?.execute { [weak self] in if self?.driver != nil { body() } }
    }
}
