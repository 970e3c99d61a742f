import SluiceFilterAPI
import SluiceHTTP
import SluiceIO

/// An upstream that answers every request with one canned response, written at once, then closes
/// the connection cleanly (FIN). For shapes the mock does not make.
final class CannedUpstream: @unchecked Sendable {
    private let loop = EventLoop()
    private let listener: Listener
    /// Loop thread only.
    private var sockets: [ObjectIdentifier: BufferEvent] = [:]
    var port: Int { listener.port }

    /// A `text/event-stream` response whose events all travel in a single HTTP chunk (the mock
    /// sends one event per chunk), ended by the last chunk.
    convenience init(sseEventsInOneChunk events: [String]) throws {
        var payload: [UInt8] = []
        for data in events { SSEEvent(data: data).write(into: &payload) }
        var response = Array("HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n".utf8)
        response += Array((String(payload.count, radix: 16) + "\r\n").utf8) + payload + Array("\r\n0\r\n\r\n".utf8)
        try self.init(response: response)
    }

    /// A `200 text/event-stream` response without length or chunking, so the close that follows
    /// `body` ends it cleanly.
    convenience init(closeDelimitedEventStream body: String) throws {
        try self.init(response: Array("HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\n\(body)".utf8))
    }

    /// `response`, head and body, as it is.
    init(response: [UInt8]) throws {
        listener = try Listener(loop: loop, host: "127.0.0.1", port: 0)
        listener.onAccept = { [unowned self] fd, _ in
            let socket = BufferEvent(loop: self.loop, acceptedSocket: fd, tls: nil)
            let key = ObjectIdentifier(socket)
            var parser = HTTPRequestParser()
            socket.onReadable = { [unowned socket] in
                var complete = false
                do {
                    try socket.consumeInput { bytes in
                        try parser.parse(bytes) { event in if case .end = event { complete = true } }
                    }
                } catch {
                    complete = true
                }
                if complete {
                    socket.write(response)
                    socket.closeAfterFlush()
                }
            }
            socket.onCondition = { [unowned self] condition in
                if condition != .connected { self.sockets[key]?.close(); self.sockets[key] = nil }
            }
            self.sockets[key] = socket
        }
        let loop = self.loop
        WorkerThread.start(name: "canned-upstream") { loop.run() }
    }

    func stop() {
        loop.execute { [self] in
            listener.close()
            for s in sockets.values { s.close() }
            sockets.removeAll()
        }
        loop.stop()
    }
}
