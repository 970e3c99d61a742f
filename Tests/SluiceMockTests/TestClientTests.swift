import Foundation
import SluiceFilterAPI
import SluiceHTTP
import SluiceMock
import SluiceTesting
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// What the canned server does, in order, on the one connection it accepts.
private enum CannedAction: Sendable {
    /// Read one request (head, then a Content-Length body) and record it.
    case readRequest
    case send([UInt8])
    case sleep(Duration)
    /// FIN.
    case close
    /// RST (SO_LINGER 0).
    case reset
    /// Wait for the client to close, at most 10 seconds.
    case waitForClientClose
}

/// A loopback server on its own thread that accepts one connection and plays a script: a stand-in
/// upstream for testing the client before the real servers exist. The connection is closed when
/// the script ends (unless it already was).
private final class CannedServer: Sendable {
    let port: Int
    /// The raw requests read by `.readRequest`, in order.
    let requests = Mutex<[[UInt8]]>([])
    private let done = Mutex(false)

    init(_ script: [CannedAction]) throws {
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(listener, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        try #require(bound == 0 && listen(listener, 4) == 0)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &length) }
        }
        port = Int(UInt16(bigEndian: address.sin_port))
        let thread = Thread { [self] in
            let connection = accept(listener, nil, nil)
            Glibc.close(listener)
            play(script, on: connection)
            done.withLock { $0 = true }
        }
        thread.start()
    }

    /// Waits (briefly) for the script to finish, so a test can read what the server recorded.
    func waitUntilDone() {
        let deadline = ContinuousClock.now + .seconds(5)
        while !done.withLock({ $0 }) && ContinuousClock.now < deadline { Thread.sleep(forTimeInterval: 0.005) }
    }

    private func play(_ script: [CannedAction], on connection: Int32) {
        var open = true
        var unread: [UInt8] = []
        for action in script where open {
            switch action {
            case .readRequest:
                requests.withLock { $0.append(Self.readRequest(connection, &unread)) }
            case .send(let bytes):
                _ = bytes.withUnsafeBytes { send(connection, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            case .sleep(let duration):
                Thread.sleep(forTimeInterval: Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18)
            case .close:
                Glibc.close(connection)
                open = false
            case .reset:
                var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
                setsockopt(connection, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
                Glibc.close(connection)
                open = false
            case .waitForClientClose:
                var timeout = timeval(tv_sec: 10, tv_usec: 0)
                setsockopt(connection, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
                var buffer = [UInt8](repeating: 0, count: 4096)
                while buffer.withUnsafeMutableBytes({ recv(connection, $0.baseAddress, $0.count, 0) }) > 0 {}
            }
        }
        if open { Glibc.close(connection) }
    }

    /// A head up to its blank line, then as many bytes as its Content-Length says (a naive reader
    /// for well-formed test requests).
    private static func readRequest(_ connection: Int32, _ unread: inout [UInt8]) -> [UInt8] {
        let blankLine: [UInt8] = Array("\r\n\r\n".utf8)
        func fill() -> Bool {
            var buffer = [UInt8](repeating: 0, count: 4096)
            let count = buffer.withUnsafeMutableBytes { recv(connection, $0.baseAddress, $0.count, 0) }
            guard count > 0 else { return false }
            unread += buffer[..<count]
            return true
        }
        var headEnd: Int?
        while headEnd == nil {
            headEnd = unread.indices.dropLast(3).first { Array(unread[$0..<$0 + 4]) == blankLine }.map { $0 + 4 }
            if headEnd == nil && !fill() { return unread }
        }
        let head = String(decoding: unread[..<headEnd!], as: UTF8.self)
        let length = head.split(separator: "\r\n")
            .first { $0.lowercased().hasPrefix("content-length:") }
            .flatMap { Int($0.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)) } ?? 0
        while unread.count < headEnd! + length && fill() {}
        let request = Array(unread.prefix(headEnd! + length))
        unread.removeFirst(request.count)
        return request
    }
}

private func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

private func chunk(_ text: String) -> [UInt8] {
    var out: [UInt8] = []
    bytes(text).withUnsafeBytes { ChunkedEncoding.writeChunk($0, into: &out) }
    return out
}

private let streamHead = bytes("HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n")

private func get(_ client: TestClient, _ target: String = "/") throws {
    try client.send(HTTPRequestHead(method: "GET", target: target, headers: ["host": "test"]))
}

/// Runs a mock plan the way the mock server must: heads as written, one chunk per body step when
/// the head is chunked, `.end` as the last chunk, waits as sleeps.
private func actions(for plan: MockPlan) -> [CannedAction] {
    var chunked = false
    var actions: [CannedAction] = [.readRequest]
    for step in plan.steps {
        switch step {
        case .head(let head):
            chunked = head.headers.containsToken("chunked", in: "transfer-encoding")
            var out: [UInt8] = []
            head.write(into: &out)
            actions.append(.send(out))
        case .body(let payload):
            var out: [UInt8] = []
            if chunked { payload.withUnsafeBytes { ChunkedEncoding.writeChunk($0, into: &out) } } else { out = payload }
            actions.append(.send(out))
        case .wait(let duration): actions.append(.sleep(duration))
        case .end:
            if chunked { actions.append(.send(ChunkedEncoding.lastChunk)) }
            actions.append(plan.keepAlive ? .waitForClientClose : .close)
        case .close: actions.append(.close)
        case .reset: actions.append(.reset)
        case .stall: actions.append(.waitForClientClose)
        }
    }
    return actions
}

private func mockPlan(_ headers: [(String, String)], tokens: Int = 4, path: String = "/v1/chat/completions") -> MockPlan {
    var settings = MockSettings()
    settings.timeToFirstToken = .milliseconds(30)
    settings.tokensPerSecond = 100
    settings.tokens = tokens
    let head = HTTPRequestHead(method: "POST", target: path, headers: HTTPHeaders(headers))
    return MockPlanner.plan(MockRequest(head: head, body: bytes(TestClient.chatRequest())), settings: settings)
}

@Suite struct TestClientTests {
    @Test func readsAChunkedEventStreamItemByItemWithTimes() throws {
        let server = try CannedServer([
            .readRequest,
            .send(streamHead + chunk(": keep-alive\n\n")),
            .sleep(.milliseconds(60)),
            .send(chunk("event: a\ndata: one\n\n")),
            .sleep(.milliseconds(60)),
            // One event split across two chunks, and two events in one chunk.
            .send(chunk("data: tw")), .send(chunk("o\n\ndata: three\n\n")),
            .send(ChunkedEncoding.lastChunk),
            .waitForClientClose,
        ])
        let client = try TestClient(port: server.port)
        defer { client.close() }
        try get(client)
        let head = try client.readHead()
        #expect(head.status == 200)
        #expect(client.lastEnding == nil)

        let comment = try #require(try client.readItem())
        #expect(comment.item == .comment("keep-alive"))
        let one = try #require(try client.readItem())
        #expect(one.item == .event(SSEEvent(event: "a", data: "one")))
        #expect(one.at - comment.at >= .milliseconds(50))
        let two = try #require(try client.readItem())
        #expect(two.event?.data == "two")
        #expect(two.at - one.at >= .milliseconds(50))
        #expect(try client.readItem()?.event?.data == "three")
        #expect(try client.readItem() == nil)
        #expect(client.lastEnding == .complete)
        #expect(try client.readItem() == nil)

        // The whole response is still available, with every item.
        let response = try client.readResponse()
        #expect(response.events.count == 4)
        #expect(response.ending == .complete)
        #expect(response.bodyText.hasSuffix("data: three\n\n"))
        #expect(response.headAt <= comment.at)
    }

    @Test func reportsATruncatedStream() throws {
        let server = try CannedServer([
            .readRequest,
            .send(streamHead + chunk("data: one\n\n") + chunk("data: cut sho")),
            .sleep(.milliseconds(20)),
            .close,
        ])
        let client = try TestClient(port: server.port)
        try get(client)
        let response = try client.readResponse()
        #expect(!client.closedByReset)
        #expect(response.ending == .truncated)
        // The event cut in the middle is never reported.
        #expect(response.sseEvents == [SSEEvent(data: "one")])
        #expect(response.bodyText == "data: one\n\ndata: cut sho")
    }

    @Test func reportsAResetAsTruncation() throws {
        let server = try CannedServer([
            .readRequest, .send(streamHead + chunk("data: one\n\n")), .sleep(.milliseconds(50)), .reset,
        ])
        let client = try TestClient(port: server.port)
        try get(client)
        #expect(try client.readItem()?.event?.data == "one")
        #expect(try client.readItem() == nil)
        #expect(client.lastEnding == .truncated)
        #expect(client.closedByReset)
    }

    @Test func readsContentLengthAndCloseDelimitedBodies() throws {
        let server = try CannedServer([
            .readRequest,
            .send(bytes("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 11\r\n\r\n{\"ok\":true}")),
            .readRequest,
            .send(bytes("HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n\r\nuntil the end")),
            .close,
        ])
        let client = try TestClient(port: server.port)
        try get(client, "/one")
        let first = try client.readResponse()
        #expect(first.bodyText == #"{"ok":true}"#)
        #expect(first.ending == .complete)
        #expect(first.events.isEmpty)
        try get(client, "/two")
        let second = try client.readResponse()
        #expect(second.bodyText == "until the end")
        #expect(second.ending == .complete)
        server.waitUntilDone()
        let targets = server.requests.withLock { $0 }.map { String(decoding: $0, as: UTF8.self).split(separator: " ")[1] }
        #expect(targets == ["/one", "/two"])
    }

    @Test func readsPipelinedResponsesOneAtATime() throws {
        let response = "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n"
        let server = try CannedServer([
            .readRequest, .readRequest, .send(bytes(response + "a1" + response + "b2")), .waitForClientClose,
        ])
        let client = try TestClient(port: server.port)
        defer { client.close() }
        try get(client)
        try get(client)
        #expect(try client.readResponse().bodyText == "a1")
        #expect(try client.readResponse().bodyText == "b2")
        #expect(throws: TestClientError.timedOut("a response head")) {
            try client.readHead(timeout: .milliseconds(50))
        }
    }

    @Test func timesOutOnAStalledStream() throws {
        let server = try CannedServer([.readRequest, .send(streamHead + chunk("data: one\n\n")), .waitForClientClose])
        let client = try TestClient(port: server.port)
        defer { client.close() }
        try get(client)
        let started = ContinuousClock.now
        let response = try client.readResponse(timeout: .milliseconds(150))
        #expect(ContinuousClock.now - started >= .milliseconds(150))
        #expect(response.ending == .timedOut)
        #expect(response.sseEvents.count == 1)
        // readItem still hands out the item readResponse saw, then waits for more.
        #expect(try client.readItem()?.event?.data == "one")
        #expect(throws: TestClientError.timedOut("the next SSE item")) {
            try client.readItem(timeout: .milliseconds(50))
        }
        #expect(!client.isClosedByPeer(within: .milliseconds(50)))
    }

    @Test func seesACloseBeforeAnyHead() throws {
        let server = try CannedServer([.readRequest, .close])
        let client = try TestClient(port: server.port)
        try get(client)
        #expect(throws: TestClientError.closedBeforeHead) { try client.readResponse() }
    }

    @Test func refusesAMalformedResponse() throws {
        let server = try CannedServer([.readRequest, .send(bytes("HTTP/1.1 2x0 Nope\r\n\r\n")), .waitForClientClose])
        let client = try TestClient(port: server.port)
        defer { client.close() }
        try get(client)
        #expect {
            try client.readHead()
        } throws: { error in
            if case .malformedResponse = error as? TestClientError { return true }
            return false
        }
    }

    @Test func readsRawBytesUntilTheClose() throws {
        let server = try CannedServer([
            .send(bytes("HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n")), .sleep(.milliseconds(30)), .close,
        ])
        let client = try TestClient(port: server.port)
        try client.sendRaw(bytes("GARBAGE\r\n\r\n"))
        #expect(client.isClosedByPeer(within: .seconds(5)))
        // What arrived before the close was kept.
        #expect(String(decoding: try client.readUntilClosed(timeout: .seconds(1)), as: UTF8.self).hasPrefix("HTTP/1.1 400"))
    }

    @Test func postsJSONAndBuildsChatBodies() throws {
        let server = try CannedServer([
            .readRequest,
            .send(bytes("HTTP/1.1 201 Created\r\ncontent-length: 2\r\n\r\nok")),
            .waitForClientClose,
        ])
        let json = TestClient.chatRequest(stream: false, model: "m\"x", includeUsage: true, maxTokens: 7)
        let response = try TestClient.post(port: server.port, path: "/v1/chat/completions", json: json,
                                           headers: [("x-mock-tokens", "3")])
        #expect(response.status == 201)
        #expect(response.bodyText == "ok")
        server.waitUntilDone()
        let request = String(decoding: try #require(server.requests.withLock { $0.first }), as: UTF8.self)
        #expect(request.hasPrefix("POST /v1/chat/completions HTTP/1.1\r\n"))
        #expect(request.contains("\r\ncontent-type: application/json\r\n"))
        #expect(request.contains("\r\nx-mock-tokens: 3\r\n"))
        #expect(request.contains("\r\ncontent-length: \(json.utf8.count)\r\n"))
        #expect(request.hasSuffix("\r\n\r\n" + json))

        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        #expect(object["model"] as? String == "m\"x")
        #expect(object["stream"] as? Bool == false)
        #expect(object["max_tokens"] as? Int == 7)
        #expect((object["stream_options"] as? [String: Bool])?["include_usage"] == true)
        let plain = try #require(try JSONSerialization.jsonObject(with: Data(TestClient.chatRequest().utf8)) as? [String: Any])
        #expect(plain["stream"] as? Bool == true)
        #expect(plain["stream_options"] == nil && plain["max_tokens"] == nil)
    }

    @Test func refusesToConnectWhereNothingListens() throws {
        // A port that was just free: bound, never listened on, and released.
        let probe = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                _ = bind(probe, $0, length)
                return getsockname(probe, $0, &length)
            }
        }
        let port = Int(UInt16(bigEndian: address.sin_port))
        Glibc.close(probe)
        #expect { try TestClient(port: port) } throws: { error in
            if case .connectFailed = error as? TestClientError { return true }
            return false
        }
        #expect { try TestClient(host: "example.com", port: 80) } throws: { error in
            if case .connectFailed = error as? TestClientError { return true }
            return false
        }
    }

    // MARK: Mock plans on the wire

    @Test func readsAMockStreamWhole() throws {
        let server = try CannedServer(actions(for: mockPlan([])))
        let client = try TestClient(port: server.port)
        defer { client.close() }
        try client.send(HTTPRequestHead(method: "POST", target: "/v1/chat/completions"), body: bytes(TestClient.chatRequest()))
        let response = try client.readResponse()
        #expect(response.ending == .complete)
        #expect(response.sseEvents.count == 1 + 4 + 1 + 1)
        #expect(response.sseEvents.last?.data == "[DONE]")
        let firstToken = response.events[1]
        #expect(firstToken.at - response.headAt >= .milliseconds(25))
        #expect(response.events[4].at - firstToken.at >= .milliseconds(25))
    }

    @Test func seesMockFaultsAsTheClientWould() throws {
        for (header, ending) in [("x-mock-close-after", ResponseEnding.truncated), ("x-mock-reset-after", .truncated),
                                 ("x-mock-error-event", .complete)] {
            let server = try CannedServer(actions(for: mockPlan([(header, "2")])))
            let client = try TestClient(port: server.port)
            try get(client)
            let response = try client.readResponse()
            #expect(response.ending == ending, "\(header)")
            let contents = response.sseEvents.filter { $0.data.contains(#""content""#) }
            #expect(contents.count == 2, "\(header)")
            client.close()
        }

        let stalled = try CannedServer(actions(for: mockPlan([("x-mock-stall-after", "1")])))
        let client = try TestClient(port: stalled.port)
        try get(client)
        #expect(try client.readResponse(timeout: .milliseconds(200)).ending == .timedOut)
        client.close()

        let trickled = try CannedServer(actions(for: mockPlan([("x-mock-trickle", "1ms")], tokens: 2)))
        let trickleClient = try TestClient(port: trickled.port)
        try get(trickleClient)
        let response = try trickleClient.readResponse()
        #expect(response.ending == .complete)
        #expect(response.sseEvents.count == 1 + 2 + 1 + 1)
        trickleClient.close()

        let refused = try CannedServer(actions(for: mockPlan([("x-mock-status", "503"), ("x-mock-retry-after", "2")],
                                                             path: "/v1/messages")))
        let refusedResponse = try TestClient.post(port: refused.port, path: "/v1/messages", json: "{}")
        #expect(refusedResponse.status == 503)
        #expect(refusedResponse.head.headers["retry-after"] == "2")
        #expect(refusedResponse.bodyText.contains(#""type":"overloaded_error""#))
    }
}
