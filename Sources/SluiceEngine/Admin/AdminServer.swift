import SluiceFilterAPI
import SluiceHTTP
import SluiceIO

/// The admin listener (127.0.0.1 by default): health and readiness now; metrics and the admin API
/// grow here. Runs on the engine's control loop. Loop thread only.
final class AdminServer {
    /// Answers one admin request: status, content type, body.
    typealias Handler = (HTTPRequestHead) -> (Int, String, String)

    private let listener: Listener
    private let loop: EventLoop
    private let handler: Handler
    private var connections: [ObjectIdentifier: AdminConnection] = [:]
    var port: Int { listener.port }

    init(loop: EventLoop, host: String, port: Int, handler: @escaping Handler) throws {
        self.loop = loop
        self.handler = handler
        listener = try Listener(loop: loop, host: host, port: port, backlog: 64)
        listener.onAccept = { [unowned self] fd, _ in
            let c = AdminConnection(server: self, socket: BufferEvent(loop: loop, acceptedSocket: fd, tls: nil))
            connections[ObjectIdentifier(c)] = c
        }
    }

    func close() {
        listener.close()
        for c in connections.values { c.socket.close() }
        connections.removeAll()
    }

    fileprivate func answer(_ head: HTTPRequestHead) -> (Int, String, String) { handler(head) }
    fileprivate func closed(_ c: AdminConnection) { connections[ObjectIdentifier(c)] = nil }
}

private final class AdminConnection {
    unowned let server: AdminServer
    let socket: BufferEvent
    private var parser = HTTPRequestParser()
    private var head: HTTPRequestHead?

    init(server: AdminServer, socket: BufferEvent) {
        self.server = server
        self.socket = socket
        socket.onReadable = { [unowned self] in self.readable() }
        socket.onCondition = { [unowned self] _ in self.socket.close(); self.server.closed(self) }
    }

    private func readable() {
        var status = 0
        do {
            try socket.consumeInput { bytes in
                if parser.isComplete { return 0 }
                return try parser.parse(bytes) { event in
                    if case .head(let h) = event { head = h }
                }
            }
        } catch let error as HTTPParseError {
            status = error.status
        } catch {
            status = 400
        }
        var response: HTTPResponseHead
        var body: [UInt8]
        if status != 0 {
            response = HTTPResponseHead(status: status)
            body = []
        } else if parser.isComplete, let head {
            let (code, type, text) = server.answer(head)
            response = HTTPResponseHead(status: code)
            response.headers.set("content-type", type)
            body = Array(text.utf8)
        } else {
            return
        }
        response.headers.set("content-length", String(body.count))
        response.headers.set("connection", "close")
        var bytes: [UInt8] = []
        response.write(into: &bytes)
        bytes.append(contentsOf: body)
        socket.write(bytes)
        socket.closeAfterFlush()
        server.closed(self)
    }
}
