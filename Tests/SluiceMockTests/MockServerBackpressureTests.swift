import SluiceHTTP
import SluiceMock
import SluiceTesting
import Testing

/// The mock makes each answer as it sends it, and stops making it while its client does not read:
/// the longest answer a fault header can ask for costs one watermark of buffer, not the whole answer
/// (issue 12, item 5: it used to build the whole answer first, about 36 MB per 100,000 tokens).
@Suite("Mock server: bounded memory per stream")
struct MockServerBackpressureTests {
    static func fastServer() throws -> MockServer {
        var settings = MockSettings()
        settings.timeToFirstToken = .zero
        settings.tokensPerSecond = 1_000_000
        let server = MockServer(settings: settings)
        try server.start()
        return server
    }

    static func longStream(port: Int) -> HTTPRequestHead {
        HTTPRequestHead(method: "POST", target: "/v1/chat/completions", headers: HTTPHeaders([
            ("host", "127.0.0.1:\(port)"), ("content-type", "application/json"),
            ("x-mock-tokens", String(MockFaults.maxTokens)),
        ]))
    }

    @Test func aClientThatDoesNotReadPausesTheAnswerAtTheWatermark() throws {
        let server = try Self.fastServer()
        defer { server.stop() }
        let client = try TestClient(port: server.port, receiveBuffer: 4096)
        defer { client.close() }
        try client.send(Self.longStream(port: server.port), body: Array(TestClient.chatRequest().utf8))

        // The client reads nothing: once the kernel's buffers are full, the mock must pause.
        let paused = server.journal.wait(timeout: .seconds(20)) { _ in server.pausedResponses == 1 }
        #expect(paused, "the mock never paused; it buffered \(server.peakOutputBacklog) bytes")
        let entry = try #require(server.journal.entries.first)
        #expect(entry.bodyStepsSent < entry.bodyStepsPlanned)
        // One watermark plus the step that crossed it (an event and its chunk framing, well under 1 KiB).
        #expect(server.peakOutputBacklog < MockServer.outputHighWatermark + 1024)
        #expect(server.peakOutputBacklog >= MockServer.outputHighWatermark)

        // Reading resumes it, and the whole answer arrives, still within the bound.
        let response = try client.readResponse(timeout: .seconds(60))
        #expect(response.ending == .complete)
        #expect(response.sseEvents.count == MockFaults.maxTokens + 3)  // role, tokens, finish, [DONE]
        #expect(server.pausedResponses == 0)
        #expect(server.peakOutputBacklog < MockServer.outputHighWatermark + 1024)
    }

    @Test func theLongestAnswerIsPlannedWholeAndReadOneEventAtATime() throws {
        var request = MockRequest(head: Self.longStream(port: 1), body: Array(TestClient.chatRequest().utf8))
        request.head.headers.set("x-mock-malformed-after", "50000")
        let plan = MockPlanner.plan(request, settings: MockSettings())
        // The plan holds a description of its content runs; reading it makes one event at a time.
        var iterator = plan.makeIterator()
        var bodies = 0
        var largest = 0
        while let step = iterator.next() {
            if case .body(let bytes) = step {
                bodies += 1
                largest = max(largest, bytes.count)
            }
        }
        #expect(bodies == MockFaults.maxTokens + 4)  // role, tokens, malformed, finish, [DONE]
        #expect(largest < 1024)
    }
}
