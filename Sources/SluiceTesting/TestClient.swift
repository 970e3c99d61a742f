import SluiceFilterAPI
import SluiceHTTP

/// A blocking HTTP/1.1 client for tests: talks to a proxy (or any server) over a real loopback
/// socket from the test's thread while the server runs on its own threads.
///
/// Every read waits at most its `timeout`; nothing blocks forever. Responses are parsed with
/// the project's own `HTTPResponseParser`, and `text/event-stream` bodies with `SSEParser`, each
/// item stamped with the time its bytes were read.
///
/// Reading a response: `readResponse` reads it whole; or `readHead`, then `readItem` until it
/// answers nil, then `lastEnding`. The connection can carry further requests (keep-alive): after
/// a response ended, the next `send` or read call moves on to the next response.
///
/// Not thread-safe: use an instance from one thread at a time.
public final class TestClient {
    private let socket: LoopbackSocket
    private var parser = HTTPResponseParser()
    private var sseParser = SSEParser()
    /// Received bytes the parser has not taken yet (a following response's, or unread ones).
    private var pending: [UInt8] = []
    /// Methods of requests sent whose responses have not started, oldest first.
    private var methodsAwaitingResponse: [String] = []
    private var peerClosed = false
    /// True when the peer's close was an abort (RST) rather than a FIN.
    public private(set) var closedByReset = false
    /// The response being read, once its head arrived.
    private var current: ResponseInProgress?

    private struct ResponseInProgress {
        var head: HTTPResponseHead
        var headAt: ContinuousClock.Instant
        var isEventStream: Bool
        var body: [UInt8] = []
        var events: [TimedSSEItem] = []
        /// How many of `events` `readItem` has handed out.
        var deliveredEvents = 0
        var ending: ResponseEnding?
        /// True once `readHead` or `readItem` handed this response out.
        var headSeen = false
        /// True once `readResponse` returned this response whole, or a new request was sent after it ended.
        var finished = false
    }

    /// Connects to `host:port`. `host` must be an IP literal or `localhost` (no DNS); connecting
    /// gives up after 10 seconds. Throws `TestClientError.connectFailed`.
    public init(host: String = "127.0.0.1", port: Int) throws {
        socket = try LoopbackSocket(host: host, port: port, deadline: .now + .seconds(10))
    }

    /// Connects with a small kernel receive buffer (`SO_RCVBUF`), so a test that stops reading makes
    /// the server feel it quickly instead of after megabytes of kernel buffering.
    public init(host: String = "127.0.0.1", port: Int, receiveBuffer: Int) throws {
        socket = try LoopbackSocket(host: host, port: port, deadline: .now + .seconds(10), receiveBuffer: receiveBuffer)
    }

    /// Sends a request head and its body. Adds `Content-Length` when the body is not empty and
    /// the head has neither Content-Length nor Transfer-Encoding; otherwise sends the head as given.
    /// Waits at most 10 seconds for socket buffer space.
    public func send(_ head: HTTPRequestHead, body: [UInt8] = []) throws {
        var head = head
        if !body.isEmpty && !head.headers.contains("content-length") && !head.headers.contains("transfer-encoding") {
            head.headers.add("content-length", String(body.count))
        }
        var bytes: [UInt8] = []
        head.write(into: &bytes)
        bytes.append(contentsOf: body)
        try sendRaw(bytes)
        methodsAwaitingResponse.append(head.method)
    }

    /// Sends bytes as they are (for malformed or hand-framed requests). A response to them is
    /// read as the answer to a GET unless `send` queued another request before.
    public func sendRaw(_ bytes: [UInt8]) throws {
        if current?.ending != nil { current?.finished = true }
        try socket.write(bytes, deadline: .now + .seconds(10))
    }

    /// The head of the current response, waiting for it when it has not arrived. When the current
    /// response has ended and was already handed out (by `readHead` or `readItem`), moves on to
    /// the next response.
    /// Throws `timedOut`, `closedBeforeHead` or `malformedResponse`.
    public func readHead(timeout: Duration = .seconds(10)) throws -> HTTPResponseHead {
        if let current, current.ending != nil, current.headSeen { self.current?.finished = true }
        let response = try awaitHead(deadline: .now + timeout)
        current?.headSeen = true
        return response.head
    }

    /// The next SSE item of the current response's body, reading the head first when needed.
    /// Answers nil once the message ended and every item was handed out; `lastEnding` then says
    /// whether it ended completely or was truncated. Throws `timedOut` when the deadline passes
    /// first (the response can still be read later).
    public func readItem(timeout: Duration = .seconds(10)) throws -> TimedSSEItem? {
        let deadline = ContinuousClock.now + timeout
        _ = try awaitHead(deadline: deadline)
        current?.headSeen = true
        while true {
            guard let response = current else { return nil }
            if response.deliveredEvents < response.events.count {
                current?.deliveredEvents += 1
                return response.events[response.deliveredEvents]
            }
            if response.ending != nil { return nil }
            guard try readMore(deadline: deadline) else { throw TestClientError.timedOut("the next SSE item") }
        }
    }

    /// How the current response ended: nil while its body is still being read (or before any).
    public var lastEnding: ResponseEnding? { current?.ending }

    /// Reads the rest of the current response (or the next one, when the current one was
    /// already returned) and returns it whole: `body` and `events` include what `readItem`
    /// already handed out. When the deadline passes in the body, the answer has ending
    /// `.timedOut` and the response can still be read further. Throws when no head arrives.
    public func readResponse(timeout: Duration = .seconds(10)) throws -> TestResponse {
        let deadline = ContinuousClock.now + timeout
        _ = try awaitHead(deadline: deadline)
        while current?.ending == nil {
            guard try readMore(deadline: deadline) else { break }
        }
        guard let response = current else { throw TestClientError.closedBeforeHead }
        if response.ending != nil { current?.finished = true }
        return TestResponse(
            head: response.head, body: response.body, events: response.events,
            ending: response.ending ?? .timedOut, headAt: response.headAt)
    }

    /// Every byte received from now (including any not parsed yet) until the peer closes, unparsed.
    /// For requests the server must refuse, whose answer may not be valid HTTP. Throws
    /// `timedOut` when the peer keeps the connection open past the deadline.
    public func readUntilClosed(timeout: Duration) throws -> [UInt8] {
        let deadline = ContinuousClock.now + timeout
        var bytes = pending
        pending = []
        while !peerClosed {
            switch readSocket(deadline: deadline) {
            case .bytes(let more): bytes += more
            case .closed: break
            case .timedOut: throw TestClientError.timedOut("the peer to close the connection")
            }
        }
        return bytes
    }

    /// Raw bytes up to and including the first `marker`, unparsed (for interim answers such as
    /// `100 Continue`, which come before the real response). Bytes after the marker stay for later
    /// reads. Throws `timedOut` when the marker does not arrive in time, `closed` when the peer closes.
    public func readUntil(_ marker: String, timeout: Duration) throws -> String {
        let deadline = ContinuousClock.now + timeout
        let needle = Array(marker.utf8)
        while true {
            if let end = Self.find(needle, in: pending) {
                let taken = Array(pending[..<end])
                pending.removeFirst(end)
                return String(decoding: taken, as: UTF8.self)
            }
            if peerClosed { throw TestClientError.closed }
            switch readSocket(deadline: deadline) {
            case .bytes(let more): pending += more
            case .closed: throw TestClientError.closed
            case .timedOut: throw TestClientError.timedOut("'\(marker)'")
            }
        }
    }

    private static func find(_ needle: [UInt8], in haystack: [UInt8]) -> Int? {
        guard !needle.isEmpty, haystack.count >= needle.count else { return nil }
        for i in 0...(haystack.count - needle.count) where haystack[i..<(i + needle.count)].elementsEqual(needle) {
            return i + needle.count
        }
        return nil
    }

    /// True when the peer closes (or resets) the connection within `within`. Bytes that arrive
    /// meanwhile are kept for later reads.
    public func isClosedByPeer(within: Duration) -> Bool {
        let deadline = ContinuousClock.now + within
        while !peerClosed {
            switch readSocket(deadline: deadline) {
            case .bytes(let more): pending += more
            case .closed: break
            case .timedOut: return false
            }
        }
        return true
    }

    /// Half-closes the connection: the server reads an end of stream after what was sent, and the
    /// response can still be read. Later sends fail.
    public func shutdownSending() {
        socket.shutdownSending()
    }

    /// Closes the connection. Later sends throw `closed` and later reads see a closed connection;
    /// calling it again does nothing.
    public func close() {
        socket.close()
    }

    // MARK: - Reading

    /// Makes sure the current response has a head, starting the next response when the current
    /// one is finished.
    private func awaitHead(deadline: ContinuousClock.Instant) throws -> ResponseInProgress {
        if let response = current, !response.finished { return response }
        if current != nil {
            current = nil
            parser.reset()
            sseParser = SSEParser()
        }
        parser.expectResponse(toMethod: methodsAwaitingResponse.first ?? "GET")
        while true {
            try parsePending(arrivedAt: .now)
            if let response = current {
                if !methodsAwaitingResponse.isEmpty { methodsAwaitingResponse.removeFirst() }
                return response
            }
            guard try readMore(deadline: deadline) else { throw TestClientError.timedOut("a response head") }
        }
    }

    /// Reads once from the socket and parses what came. Returns false when the deadline passed
    /// with nothing read. At the peer's close, settles the response's ending (or throws
    /// `closedBeforeHead` when no response had started).
    private func readMore(deadline: ContinuousClock.Instant) throws -> Bool {
        if peerClosed {
            // Bytes kept by `isClosedByPeer` come first.
            try parsePending(arrivedAt: .now)
            try settleAtClose()
            return true
        }
        switch readSocket(deadline: deadline) {
        case .bytes(let bytes):
            pending += bytes
            try parsePending(arrivedAt: .now)
        case .closed:
            try settleAtClose()
        case .timedOut:
            return false
        }
        return true
    }

    /// One socket read, remembering a close.
    private func readSocket(deadline: ContinuousClock.Instant) -> LoopbackSocket.ReadResult {
        let result = socket.read(deadline: deadline)
        if case .closed(let reset) = result {
            peerClosed = true
            closedByReset = reset
        }
        return result
    }

    private func parsePending(arrivedAt: ContinuousClock.Instant) throws {
        guard !pending.isEmpty, current?.ending == nil else { return }
        var parseFailure: HTTPParseError?
        let consumed = pending.withUnsafeBytes { buffer in
            do throws(HTTPParseError) {
                return try parser.parse(buffer) { event in handle(event, at: arrivedAt) }
            } catch {
                parseFailure = error
                return 0
            }
        }
        if let parseFailure { throw TestClientError.malformedResponse(parseFailure.description) }
        pending.removeFirst(consumed)
    }

    private func settleAtClose() throws {
        guard current?.ending == nil else { return }
        let outcome = parser.finishAtEOF { event in handle(event, at: .now) }
        guard current != nil else { throw TestClientError.closedBeforeHead }
        if outcome != .completed { current?.ending = .truncated }
    }

    private func handle(_ event: HTTPParseEvent<HTTPResponseHead>, at instant: ContinuousClock.Instant) {
        switch event {
        case .head(let head):
            let isEventStream = head.headers["content-type"].map {
                $0.lowercased().hasPrefix("text/event-stream")
            } ?? false
            current = ResponseInProgress(head: head, headAt: instant, isEventStream: isEventStream)
        case .body(let bytes):
            current?.body.append(contentsOf: bytes)
            guard current?.isEventStream == true else { return }
            var items: [TimedSSEItem] = []
            do {
                try sseParser.feed(bytes) { items.append(TimedSSEItem(item: $0, at: instant)) }
            } catch {
                // An oversized event: the stream cannot be framed further; the body bytes still
                // record everything for the test to inspect.
            }
            current?.events += items
        case .end:
            current?.ending = .complete
        }
    }
}
