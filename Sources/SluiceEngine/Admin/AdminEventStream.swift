import SluiceIO

/// One `text/event-stream` answer of the admin listener, kept open until the client leaves or the
/// listener closes. Control loop only.
///
/// Backpressure: `send` writes an event only while fewer than `highWatermark` bytes wait for the
/// client; otherwise it drops the event and returns false. A feed of snapshots loses nothing by
/// that (the next snapshot replaces the dropped one), and a browser that stops reading costs at
/// most the watermark plus one event.
final class AdminEventStream {
    /// Bytes allowed to wait for the client before events are dropped.
    static let highWatermark = 256 * 1024

    private let socket: BufferEvent
    private var onClose: (() -> Void)?
    /// Events dropped because the client was not reading; for tests and the log.
    private(set) var dropped = 0

    init(socket: BufferEvent) {
        self.socket = socket
    }

    /// True until the client left or `close()` ran.
    var isOpen: Bool { socket.isOpen }

    /// Bytes written and not yet taken by the client.
    var backlog: Int { socket.outputLength }

    /// Runs `body` once, when the stream ends for any reason (the client left, the listener closed).
    func whenClosed(_ body: @escaping () -> Void) { onClose = body }

    /// Writes one event (`event: NAME` and one `data:` line per line of `data`). Returns false,
    /// writing nothing, when the stream is closed or the client's backlog is over the watermark.
    @discardableResult
    func send(event: String, data: String) -> Bool {
        guard socket.isOpen else { return false }
        guard socket.outputLength < Self.highWatermark else {
            dropped += 1
            return false
        }
        var text = "event: \(event)\n"
        for line in data.split(separator: "\n", omittingEmptySubsequences: false) { text += "data: \(line)\n" }
        socket.write(text + "\n")
        return true
    }

    /// Writes an SSE comment (`: text`), which keeps idle intermediaries from cutting the stream.
    func comment(_ text: String) {
        guard socket.isOpen, socket.outputLength < Self.highWatermark else { return }
        socket.write(": \(text)\n\n")
    }

    /// Called by the connection when its socket closed (the client left, or the listener closed).
    /// Runs the close handler once.
    func ended() {
        let handler = onClose
        onClose = nil
        handler?()
    }
}
