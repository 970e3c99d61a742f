import SluiceFilterAPI
import SluiceHTTP
import SluiceIO

/// An admin endpoint's answer.
struct AdminResponse {
    var status: Int
    var contentType: String
    var body: [UInt8]

    init(_ status: Int, _ contentType: String, _ body: [UInt8]) {
        self.status = status
        self.contentType = contentType
        self.body = body
    }

    init(_ status: Int, json: String) {
        self.init(status, "application/json", Array(json.utf8))
    }
}

/// The admin listener (127.0.0.1 by default): health, readiness, metrics and the admin API. One
/// request per connection. Runs on the engine's control loop. Loop thread only.
final class AdminServer {
    /// Answers one admin request by calling `respond` once, on the control loop, now or later
    /// (an answer that needs every worker's view waits for them).
    typealias Handler = (HTTPRequestHead, _ respond: @escaping (AdminResponse) -> Void) -> Void

    let listener: Listener
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

    fileprivate func answer(_ head: HTTPRequestHead, _ respond: @escaping (AdminResponse) -> Void) { handler(head, respond) }
    fileprivate func closed(_ c: AdminConnection) { connections[ObjectIdentifier(c)] = nil }
    fileprivate func isOpen(_ c: AdminConnection) -> Bool { connections[ObjectIdentifier(c)] != nil }
}

private final class AdminConnection {
    unowned let server: AdminServer
    let socket: BufferEvent
    private var parser = HTTPRequestParser()
    private var head: HTTPRequestHead?
    private var answered = false

    init(server: AdminServer, socket: BufferEvent) {
        self.server = server
        self.socket = socket
        socket.onReadable = { [unowned self] in self.readable() }
        socket.onCondition = { [unowned self] _ in
            self.answered = true
            self.socket.close()
            self.server.closed(self)
        }
    }

    private func readable() {
        guard !answered else { return }
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
        if status != 0 {
            send(AdminResponse(status, "text/plain", []))
        } else if parser.isComplete, let head {
            answered = true
            // Weak: the server holds the connection until it answers or closes; a slow answer
            // must not keep a closed connection (and its socket) alive on the loop.
            server.answer(head) { [weak self] response in self?.send(response) }
        }
    }

    private func send(_ answer: AdminResponse) {
        // The connection may have closed while a slow answer was gathered.
        guard server.isOpen(self) else { return }
        answered = true
        var response = HTTPResponseHead(status: answer.status)
        if !answer.body.isEmpty { response.headers.set("content-type", answer.contentType) }
        let body = answer.body
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
