import SluiceFilterAPI
import SluiceHTTP
import SluiceIO

/// An admin endpoint's answer.
struct AdminResponse {
    var status: Int
    var contentType: String
    var body: [UInt8]
    /// Fields besides content-type, content-length and connection (a 401's challenge).
    var headers: [(String, String)] = []
    /// Set for a long-lived `text/event-stream` answer: the head goes out without a length, the
    /// connection stays open, and this runs once with the stream to write events to (control loop).
    /// `body` is then ignored.
    var events: ((AdminEventStream) -> Void)?

    init(_ status: Int, _ contentType: String, _ body: [UInt8]) {
        self.status = status
        self.contentType = contentType
        self.body = body
    }

    init(_ status: Int, json: String) {
        self.init(status, "application/json", Array(json.utf8))
    }

    /// A 200 `text/event-stream` answer that hands its stream to `start`.
    static func eventStream(_ start: @escaping (AdminEventStream) -> Void) -> AdminResponse {
        var response = AdminResponse(200, "text/event-stream", [])
        response.events = start
        return response
    }
}

/// The admin listener (127.0.0.1 by default): health, readiness, metrics, the admin API and the
/// console. One request per connection; an event-stream answer keeps its connection until the client
/// leaves or the listener closes. Runs on the engine's control loop. Loop thread only.
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
        for c in connections.values {
            c.socket.close()
            c.stream?.ended()
        }
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
    /// Set while the connection carries an event stream.
    private(set) var stream: AdminEventStream?

    init(server: AdminServer, socket: BufferEvent) {
        self.server = server
        self.socket = socket
        socket.onReadable = { [unowned self] in self.readable() }
        socket.onCondition = { [unowned self] _ in
            self.answered = true
            self.stream?.ended()
            self.socket.close()
            // Last: this may free the connection.
            self.server.closed(self)
        }
    }

    private func readable() {
        guard !answered else {
            // An event stream reads on only to see the client leave: whatever else it sends is
            // dropped, so it cannot pile up in the input buffer for the stream's whole life.
            if stream != nil { socket.consumeInput { $0.count } }
            return
        }
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
        if let start = answer.events {
            // No length: the body is every event until the connection closes.
            response.headers.set("content-type", answer.contentType)
            response.headers.set("cache-control", "no-store")
            response.headers.set("connection", "close")
            for (name, value) in answer.headers { response.headers.set(name, value) }
            var bytes: [UInt8] = []
            response.write(into: &bytes)
            socket.write(bytes)
            let stream = AdminEventStream(socket: socket)
            self.stream = stream
            start(stream)
            return
        }
        if !answer.body.isEmpty { response.headers.set("content-type", answer.contentType) }
        let body = answer.body
        response.headers.set("content-length", String(body.count))
        response.headers.set("connection", "close")
        for (name, value) in answer.headers { response.headers.set(name, value) }
        var bytes: [UInt8] = []
        response.write(into: &bytes)
        bytes.append(contentsOf: body)
        socket.write(bytes)
        socket.closeAfterFlush()
        server.closed(self)
    }
}
