import SluiceFilterAPI
import SluiceHTTP
import SluiceIO

/// The client's side of one exchange: the response framing (`ClientResponseWriter`), the client's
/// socket, and backpressure. Every response byte goes through here; `send` is the one place that
/// looks at the client's backlog. Owned by the exchange; loop thread only.
struct ClientSide {
    let socket: BufferEvent
    private var writer = ClientResponseWriter()
    /// When upstream reads were paused for this client; nil while they flow.
    private(set) var pausedAt: MonotonicInstant?
    /// The head that went out was a 200 `text/event-stream` head sent for a comment, before any
    /// upstream answered (queue positions): only an upstream 200 can follow it.
    private(set) var sentCommentHead = false

    init(socket: BufferEvent) {
        self.socket = socket
    }

    /// Upstream reads are paused until the client's backlog drains.
    var isPaused: Bool { pausedAt != nil }
    /// The connection can carry another request after this response.
    var keepAlive: Bool { writer.keepAlive }
    /// Whether an extra SSE event (an error, a comment) can still be written inside the body.
    var canAppendEvent: Bool { writer.canAppendEvent }
    /// Response bytes written so far, head included.
    var bytesWritten: Int { writer.bytesWritten }
    /// Bytes waiting to be written to the client.
    var backlog: Int { socket.outputLength }

    /// Writes the response head (see `ClientResponseWriter.writeHead`). `forComment` marks the
    /// event-stream head sent ahead of the upstream's.
    mutating func sendHead(_ head: HTTPResponseHead, requestMethod: String, clientVersion: HTTPVersion,
                           clientKeepAlive: Bool, passContentLength: Bool, forComment: Bool = false) {
        writer.writeHead(head, requestMethod: requestMethod, clientVersion: clientVersion, clientKeepAlive: clientKeepAlive,
                         passContentLength: passContentLength, to: socket)
        if forComment { sentCommentHead = true }
    }

    /// Writes an upstream's head with the filters' `added` fields and the request id, without
    /// editing a copy of it (see `ClientResponseWriter.writePassedOnHead`). False: nothing was
    /// written; the caller edits a copy and calls `sendHead`.
    mutating func sendPassedOnHead(_ head: HTTPResponseHead, added: [(String, String)], requestID: String,
                                   requestMethod: String, clientVersion: HTTPVersion, clientKeepAlive: Bool,
                                   passContentLength: Bool) -> Bool {
        writer.writePassedOnHead(head, added: added, requestID: requestID, requestMethod: requestMethod,
                                 clientVersion: clientVersion, clientKeepAlive: clientKeepAlive,
                                 passContentLength: passContentLength, to: socket)
    }

    /// Writes body bytes in the response's framing. Answers true when reads are flowing and the
    /// backlog is now above `highWatermark`: the caller pauses the upstream (`pause`).
    mutating func send(_ bytes: UnsafeRawBufferPointer, highWatermark: Int) -> Bool {
        writer.writeBody(bytes, to: socket)
        return pausedAt == nil && socket.outputLength > highWatermark
    }

    mutating func send(_ bytes: [UInt8], highWatermark: Int) -> Bool {
        bytes.withUnsafeBytes { send($0, highWatermark: highWatermark) }
    }

    /// Writes body bytes on a path that ends the response next (an error event, a whole reply):
    /// no backpressure applies.
    mutating func sendFinal(_ bytes: [UInt8]) {
        writer.writeBody(bytes, to: socket)
    }

    /// Upstream reads stop now; `onWritable` fires once the backlog drains to `lowWatermark`.
    mutating func pause(at now: MonotonicInstant, lowWatermark: Int) {
        pausedAt = now
        socket.setWriteLowWatermark(lowWatermark)
    }

    /// The backlog drained: reads flow again. Answers how long they were paused.
    mutating func resume(at now: MonotonicInstant) -> Duration {
        defer { pausedAt = nil }
        socket.setWriteLowWatermark(0)
        return pausedAt.map { now.since($0) } ?? .zero
    }

    /// The exchange ended while paused: answers the pause so far, and forgets it.
    mutating func endPause(at now: MonotonicInstant) -> Duration {
        defer { pausedAt = nil }
        return pausedAt.map { now.since($0) } ?? .zero
    }

    /// Ends the message properly; false when the framing cannot end here (a short Content-Length
    /// body): the caller must treat the stream as cut.
    mutating func finish() -> Bool { writer.finish(to: socket) }

    /// No further request on this connection.
    mutating func forceClose() { writer.forceClose() }
}
