import Foundation
import SluiceFilterAPI
import SluiceHTTP
import SluiceMock
import Testing

/// What a plan sends, laid out in time, for assertions that read like the wire.
private struct PlanReading {
    var plan: MockPlan
    var head: HTTPResponseHead?
    /// Time of the head, measured from the plan's start.
    var headAt: Duration = .zero
    /// Every body step with the time it is sent.
    var pieces: [(at: Duration, bytes: [UInt8])] = []
    var last: MockStep?

    init(_ plan: MockPlan) {
        self.plan = plan
        var clock = Duration.zero
        for step in plan.steps {
            switch step {
            case .head(let head):
                self.head = head
                headAt = clock
            case .body(let bytes): pieces.append((clock, bytes))
            case .wait(let duration): clock += duration
            case .end, .close, .reset, .stall: last = step
            }
        }
    }

    var body: [UInt8] { pieces.flatMap(\.bytes) }
    var bodyText: String { String(decoding: body, as: UTF8.self) }
    var status: Int? { head?.status }

    /// The SSE events of the body, each with the time its last byte is sent.
    var events: [(at: Duration, event: SSEEvent)] {
        var parser = SSEParser()
        var result: [(Duration, SSEEvent)] = []
        for piece in pieces {
            for case .event(let event) in (try? parser.feed(piece.bytes)) ?? [] { result.append((piece.at, event)) }
        }
        return result
    }

    var json: [String: Any]? { Self.object(bodyText) }

    static func object(_ text: String) -> [String: Any]? {
        (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any]
    }
}

private func plan(
    _ method: String = "POST", _ target: String = "/v1/chat/completions", headers: [(String, String)] = [],
    body: String = #"{"stream":true}"#, version: HTTPVersion = .http1_1, settings: MockSettings = MockSettings()
) -> PlanReading {
    let head = HTTPRequestHead(method: method, target: target, version: version, headers: HTTPHeaders(headers))
    let plan = MockPlanner.plan(MockRequest(head: head, body: Array(body.utf8)), settings: settings)
    checkInvariants(plan)
    return PlanReading(plan)
}

/// The promises `MockStep` and `MockPlan` make to the executor.
private func checkInvariants(_ plan: MockPlan, sourceLocation: SourceLocation = #_sourceLocation) {
    let terminals = plan.steps.filter { [.end, .close, .reset, .stall].contains($0) }
    #expect(terminals.count == 1, sourceLocation: sourceLocation)
    #expect(terminals.first == plan.steps.last, sourceLocation: sourceLocation)
    var sawHead = false
    var previousWasWait = false
    for step in plan.steps {
        switch step {
        case .head:
            #expect(!sawHead, "two heads", sourceLocation: sourceLocation)
            sawHead = true
        case .body(let bytes):
            #expect(sawHead && !bytes.isEmpty, sourceLocation: sourceLocation)
        case .wait(let duration):
            #expect(duration > .zero && !previousWasWait, sourceLocation: sourceLocation)
        default: break
        }
        if case .wait = step { previousWasWait = true } else { previousWasWait = false }
    }
    if plan.steps.last != .end { #expect(!plan.keepAlive, sourceLocation: sourceLocation) }
}

private func data(_ event: SSEEvent) -> [String: Any]? { PlanReading.object(event.data) }

/// The OpenAI chat content deltas of a stream, in order.
private func chatContents(_ reading: PlanReading) -> [String] {
    reading.events.compactMap { entry in
        guard let choices = data(entry.event)?["choices"] as? [[String: Any]],
              let delta = choices.first?["delta"] as? [String: Any]
        else { return nil }
        return delta["content"] as? String
    }
}

private let instant: MockSettings = {
    var settings = MockSettings()
    settings.timeToFirstToken = .zero
    settings.tokensPerSecond = 1_000_000
    return settings
}()

@Suite struct MockSettingsTests {
    @Test func defaults() {
        let settings = MockSettings()
        #expect(settings.timeToFirstToken == .milliseconds(100))
        #expect(settings.tokensPerSecond == 50)
        #expect(settings.tokens == 30)
        #expect(settings.model == "sluice-mock")
        #expect(settings.interTokenDelay == .milliseconds(20))
    }

    @Test func readsEveryKey() throws {
        let settings = try MockSettings(query: "ttft=150ms&tps=40&tokens=60&model=x")
        #expect(settings.timeToFirstToken == .milliseconds(150))
        #expect(settings.tokensPerSecond == 40)
        #expect(settings.tokens == 60)
        #expect(settings.model == "x")
        #expect(try MockSettings(query: "") == MockSettings())
        #expect(try MockSettings(query: "?tokens=3&&tokens=4").tokens == 4)
    }

    @Test func readsDurations() throws {
        #expect(try MockSettings(query: "ttft=2s").timeToFirstToken == .seconds(2))
        #expect(try MockSettings(query: "ttft=1.5s").timeToFirstToken == .milliseconds(1500))
        #expect(try MockSettings(query: "ttft=250us").timeToFirstToken == .microseconds(250))
        #expect(try MockSettings(query: "ttft=0").timeToFirstToken == .zero)
        #expect(try MockSettings(query: "tps=12.5").tokensPerSecond == 12.5)
    }

    @Test func decodesTheModelName() throws {
        #expect(try MockSettings(query: "model=gpt%2D4o+mini").model == "gpt-4o mini")
    }

    @Test(arguments: [
        ("speed=3", "unknown setting \"speed\""),
        ("ttft=fast", "ttft: expected a duration"),
        ("ttft=150", "ttft: expected a duration"),
        ("ttft=-1s", "ttft: expected a duration"),
        ("tps=0", "tps: expected a number greater than 0"),
        ("tps=inf", "tps: expected a number greater than 0"),
        ("tokens=-1", "tokens: expected a whole number"),
        ("tokens=2.5", "tokens: expected a whole number"),
        ("model=", "model: expected a non-empty"),
        ("model=%zz", "model: expected a non-empty"),
        ("tokens", "expected key=value"),
    ])
    func refusesBadQueries(query: String, message: String) {
        #expect {
            try MockSettings(query: query)
        } throws: { error in
            (error as? MockSettingsError)?.message.contains(message) == true
        }
    }
}

@Suite struct MockPlannerTests {
    // MARK: OpenAI chat, streamed

    @Test func streamsAChatCompletion() throws {
        let reading = plan(body: #"{"model":"gpt-x","stream":true,"messages":[{"role":"user","content":"one two three"}]}"#)
        let head = try #require(reading.head)
        #expect(head.status == 200)
        #expect(head.headers["content-type"] == "text/event-stream")
        #expect(head.headers["transfer-encoding"] == "chunked")
        #expect(head.headers["content-length"] == nil)
        #expect(reading.last == .end)
        #expect(reading.plan.keepAlive)

        let events = reading.events.map(\.event)
        #expect(events.count == 1 + 30 + 1 + 1)
        let first = try #require(data(events[0]))
        #expect(first["object"] as? String == "chat.completion.chunk")
        #expect(first["model"] as? String == "gpt-x")
        let firstChoice = try #require((first["choices"] as? [[String: Any]])?.first)
        #expect(firstChoice["delta"] as? [String: String] == ["role": "assistant"])

        #expect(chatContents(reading) == (0..<30).map(MockTokens.token(at:)))
        #expect(chatContents(reading).joined() == MockTokens.text(count: 30))
        #expect(MockTokens.text(count: 3) == " alpha bravo charlie")

        let finish = try #require((data(events[31])?["choices"] as? [[String: Any]])?.first)
        #expect(finish["finish_reason"] as? String == "stop")
        #expect((finish["delta"] as? [String: Any])?.isEmpty == true)
        #expect(events.last?.data == "[DONE]")
        #expect(events.dropLast().allSatisfy { data($0) != nil })
        #expect(events.allSatisfy { $0.event == nil })
    }

    @Test func pacesTokensByTimeToFirstTokenAndRate() throws {
        var settings = MockSettings()
        settings.tokens = 4
        let reading = plan(settings: settings)
        #expect(reading.headAt == .zero)
        let times = reading.events.map(\.at)
        // role chunk with the head, tokens at 100, 120, 140, 160ms, then finish and [DONE] at once.
        #expect(times == [.zero, .milliseconds(100), .milliseconds(120), .milliseconds(140), .milliseconds(160),
                          .milliseconds(160), .milliseconds(160)])
    }

    @Test func zeroTokensStillFinishAtTimeToFirstToken() {
        var settings = MockSettings()
        settings.tokens = 0
        let reading = plan(settings: settings)
        #expect(reading.events.map(\.at) == [.zero, .milliseconds(100), .milliseconds(100)])
        #expect(chatContents(reading).isEmpty)
    }

    @Test func reportsUsageWhenAsked() throws {
        let reading = plan(body: #"{"stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"system","content":"be brief"},{"role":"user","content":[{"type":"text","text":"one two  three"}]}]}"#)
        let events = reading.events.map(\.event)
        #expect(events.last?.data == "[DONE]")
        let usageChunk = try #require(data(events[events.count - 2]))
        #expect((usageChunk["choices"] as? [Any])?.isEmpty == true)
        let usage = try #require(usageChunk["usage"] as? [String: Int])
        #expect(usage == ["prompt_tokens": 5, "completion_tokens": 30, "total_tokens": 35])
        // Without the option there is no usage chunk.
        #expect(!plan().bodyText.contains("usage"))
    }

    @Test func maxTokensCapsTheCompletion() throws {
        for body in [#"{"stream":true,"max_tokens":5}"#, #"{"stream":true,"max_completion_tokens":5,"max_tokens":9}"#] {
            let reading = plan(body: body)
            #expect(chatContents(reading).count == 5)
            let finish = reading.events.map(\.event).compactMap { data($0)?["choices"] as? [[String: Any]] }
                .compactMap { $0.first?["finish_reason"] as? String }
            #expect(finish == ["length"])
        }
        // A cap above the configured length changes nothing.
        let uncapped = plan(body: #"{"stream":true,"max_tokens":100}"#)
        #expect(uncapped.bodyText.contains(#""finish_reason":"stop""#))
        #expect(chatContents(uncapped).count == 30)
    }

    // MARK: OpenAI completions and whole answers

    @Test func streamsALegacyCompletion() throws {
        var settings = instant
        settings.tokens = 3
        let reading = plan("POST", "/v1/completions", body: #"{"stream":true,"prompt":"say it"}"#, settings: settings)
        let chunks = reading.events.dropLast().compactMap { data($0.event) }
        #expect(chunks.allSatisfy { $0["object"] as? String == "text_completion" })
        let texts = chunks.compactMap { ($0["choices"] as? [[String: Any]])?.first?["text"] as? String }
        #expect(texts == [" alpha", " bravo", " charlie", ""])
        #expect(reading.events.last?.event.data == "[DONE]")
    }

    @Test func answersWholeChatCompletionsWithContentLength() throws {
        var settings = MockSettings()
        settings.tokens = 5
        let reading = plan(body: #"{"model":"m","messages":[{"role":"user","content":"a b c d"}]}"#, settings: settings)
        let head = try #require(reading.head)
        #expect(head.headers["content-type"] == "application/json")
        #expect(head.headers["content-length"] == String(reading.body.count))
        #expect(head.headers["transfer-encoding"] == nil)
        // Sent when the stream would have finished: 100ms + 4 × 20ms.
        #expect(reading.headAt == .milliseconds(180))
        #expect(reading.pieces.map(\.at) == [.milliseconds(180)])
        let json = try #require(reading.json)
        #expect(json["object"] as? String == "chat.completion")
        let choice = try #require((json["choices"] as? [[String: Any]])?.first)
        #expect((choice["message"] as? [String: String])?["content"] == MockTokens.text(count: 5))
        #expect(choice["finish_reason"] as? String == "stop")
        #expect(json["usage"] as? [String: Int] == ["prompt_tokens": 4, "completion_tokens": 5, "total_tokens": 9])
    }

    @Test func answersWholeLegacyCompletions() throws {
        let reading = plan("POST", "/v1/completions", body: #"{"prompt":["a b","c"],"max_tokens":2}"#, settings: instant)
        let json = try #require(reading.json)
        let choice = try #require((json["choices"] as? [[String: Any]])?.first)
        #expect(choice["text"] as? String == " alpha bravo")
        #expect(choice["finish_reason"] as? String == "length")
        #expect((json["usage"] as? [String: Int])?["prompt_tokens"] == 3)
    }

    @Test func listsTheModel() throws {
        var settings = MockSettings()
        settings.model = "my-model"
        let reading = plan("GET", "/v1/models", body: "", settings: settings)
        #expect(reading.status == 200)
        #expect(reading.headAt == .zero)
        let models = try #require(reading.json?["data"] as? [[String: Any]])
        #expect(models.map { $0["id"] as? String } == ["my-model"])
    }

    // MARK: Anthropic

    @Test func streamsAnAnthropicMessage() throws {
        var settings = MockSettings()
        settings.tokens = 3
        let reading = plan(
            "POST", "/v1/messages",
            body: #"{"model":"claude-x","stream":true,"system":"be nice","messages":[{"role":"user","content":"hi there"}]}"#,
            settings: settings)
        #expect(reading.head?.headers["content-type"] == "text/event-stream")
        let names = reading.events.map { $0.event.event }
        #expect(names == ["message_start", "content_block_start", "ping",
                          "content_block_delta", "content_block_delta", "content_block_delta",
                          "content_block_stop", "message_delta", "message_stop"])
        #expect(reading.events.allSatisfy { data($0.event)?["type"] as? String == $0.event.event })
        let start = try #require(data(reading.events[0].event)?["message"] as? [String: Any])
        #expect(start["model"] as? String == "claude-x")
        #expect((start["usage"] as? [String: Int])?["input_tokens"] == 4)
        let texts = reading.events.compactMap { (data($0.event)?["delta"] as? [String: Any])?["text"] as? String }
        #expect(texts == [" alpha", " bravo", " charlie"])
        let delta = try #require(data(reading.events[7].event))
        #expect((delta["delta"] as? [String: Any])?["stop_reason"] as? String == "end_turn")
        #expect((delta["usage"] as? [String: Int])?["output_tokens"] == 3)
        // The preamble goes with the head; the first delta comes at the time to first token.
        #expect(reading.events.prefix(4).map(\.at) == [.zero, .zero, .zero, .milliseconds(100)])
    }

    @Test func anthropicMaxTokensStopReason() throws {
        let reading = plan("POST", "/v1/messages", body: #"{"stream":true,"max_tokens":2}"#, settings: instant)
        #expect(reading.bodyText.contains(#""stop_reason":"max_tokens""#))
        #expect(reading.bodyText.contains(#""output_tokens":2}"#))
    }

    @Test func answersWholeAnthropicMessages() throws {
        let reading = plan("POST", "/v1/messages", body: #"{"max_tokens":1024,"messages":[{"role":"user","content":[{"type":"text","text":"x y"}]}]}"#, settings: instant)
        let json = try #require(reading.json)
        #expect(json["type"] as? String == "message")
        #expect((json["content"] as? [[String: String]])?.first?["text"] == MockTokens.text(count: 30))
        #expect(json["stop_reason"] as? String == "end_turn")
        #expect(json["usage"] as? [String: Int] == ["input_tokens": 2, "output_tokens": 30])
    }

    // MARK: Refusals

    @Test func refusesBadBodies() throws {
        for body in ["{not json", "", "[1,2]", #"{"stream":"yes"}"#, #"{"stream":1}"#, #"{"max_tokens":-1}"#,
                     #"{"max_tokens":1.5}"#, #"{"model":3}"#] {
            let reading = plan(body: body)
            #expect(reading.status == 400, "\(body)")
            let error = try #require(reading.json?["error"] as? [String: Any])
            #expect(error["type"] as? String == "invalid_request_error")
            #expect(!(error["message"] as? String ?? "").isEmpty)
            #expect(reading.last == .end && reading.plan.keepAlive)
        }
    }

    @Test func refusesUnknownPathsAndWrongMethods() throws {
        let missing = plan("POST", "/v2/chat", body: "{}")
        #expect(missing.status == 404)
        #expect((missing.json?["error"] as? [String: Any])?["message"] as? String == "unknown path /v2/chat")

        let wrong = plan("GET", "/v1/chat/completions?x=1", body: "")
        #expect(wrong.status == 405)
        #expect(wrong.head?.headers["allow"] == "POST")
        #expect(plan("POST", "/v1/models").head?.headers["allow"] == "GET")

        // An error on /v1/messages has Anthropic's shape.
        let anthropic = plan("GET", "/v1/messages", body: "")
        #expect(anthropic.json?["type"] as? String == "error")
        #expect((anthropic.json?["error"] as? [String: Any])?["type"] as? String == "invalid_request_error")
    }

    @Test func answersHeadWithoutABody() throws {
        let reading = plan("HEAD", "/v1/models", body: "")
        #expect(reading.status == 405)
        #expect(reading.head?.headers["content-length"] != "0")
        #expect(reading.pieces.isEmpty)
    }

    // MARK: Connections

    @Test func honoursConnectionClose() throws {
        let reading = plan(headers: [("Connection", "close")])
        #expect(reading.head?.headers["connection"] == "close")
        #expect(!reading.plan.keepAlive)
        #expect(reading.last == .end)
        #expect(plan().head?.headers["connection"] == nil)
    }

    @Test func streamsToHTTP10ClientsUntilClose() throws {
        let reading = plan(headers: [("Connection", "keep-alive")], version: .http1_0)
        #expect(reading.head?.headers["transfer-encoding"] == nil)
        #expect(reading.head?.headers["connection"] == "close")
        #expect(!reading.plan.keepAlive)
        // A whole answer can keep an HTTP/1.0 connection that asked for it.
        let whole = plan(headers: [("Connection", "keep-alive")], body: "{}", version: .http1_0)
        #expect(whole.head?.headers["connection"] == "keep-alive")
        #expect(whole.plan.keepAlive)
    }

    @Test func isDeterministic() {
        let body = #"{"stream":true,"stream_options":{"include_usage":true}}"#
        #expect(plan(body: body).plan == plan(body: body).plan)
        #expect(plan(body: body).plan != plan(body: #"{"stream":true}"#).plan)
    }

    // MARK: Faults

    @Test func answersTheRequestedStatus() throws {
        let reading = plan(headers: [("x-mock-status", "503"), ("X-Mock-Retry-After", "2")])
        let head = try #require(reading.head)
        #expect(head.status == 503)
        #expect(head.reason == "Service Unavailable")
        #expect(head.headers["retry-after"] == "2")
        let error = try #require(reading.json?["error"] as? [String: Any])
        #expect(error["type"] as? String == "server_error")
        #expect((error["message"] as? String)?.contains("503") == true)

        let limited = plan("POST", "/v1/messages", headers: [("x-mock-status", "429")])
        #expect(limited.status == 429)
        #expect(limited.json?["type"] as? String == "error")
        #expect((limited.json?["error"] as? [String: Any])?["type"] as? String == "rate_limit_error")
    }

    @Test func delaysTheHead() {
        let reading = plan(headers: [("x-mock-head-delay", "500ms")])
        #expect(reading.plan.steps.first == .wait(.milliseconds(500)))
        #expect(reading.headAt == .milliseconds(500))
        #expect(reading.events.first?.at == .milliseconds(500))
        #expect(reading.events[1].at == .milliseconds(600))
        #expect(plan(headers: [("x-mock-head-delay", "1s"), ("x-mock-status", "500")]).headAt == .seconds(1))
    }

    @Test func stallsResetsOrClosesAfterNContentEvents() throws {
        for (header, last) in [("x-mock-stall-after", MockStep.stall), ("x-mock-reset-after", .reset),
                               ("x-mock-close-after", .close)] {
            let reading = plan(headers: [(header, "3")])
            #expect(reading.last == last)
            #expect(!reading.plan.keepAlive)
            #expect(chatContents(reading) == [" alpha", " bravo", " charlie"])
            #expect(!reading.bodyText.contains("[DONE]"))
            // The interruption comes when the fourth token was due.
            let interruption = reading.plan.steps.suffix(2)
            #expect(Array(interruption) == [.wait(.milliseconds(20)), last])
            // The head looked like any other: nothing announced the close.
            #expect(reading.head?.headers["connection"] == nil)
        }
        #expect(chatContents(plan(headers: [("x-mock-reset-after", "0")])).isEmpty)
    }

    @Test func anInterruptionBeyondTheLastTokenStillHappens() {
        var settings = instant
        settings.tokens = 2
        let reading = plan(headers: [("x-mock-close-after", "10")], settings: settings)
        #expect(chatContents(reading).count == 2)
        #expect(reading.last == .close)
        #expect(!reading.bodyText.contains("finish_reason\":\"stop"))
    }

    @Test func sendsOneMalformedEventAndGoesOn() throws {
        var settings = instant
        settings.tokens = 4
        let reading = plan(headers: [("x-mock-malformed-after", "2")], settings: settings)
        let events = reading.events.map(\.event)
        let malformed = events.indices.filter { data(events[$0]) == nil && events[$0].data != "[DONE]" }
        // role chunk, two tokens, then the malformed one.
        #expect(malformed == [3])
        #expect(chatContents(reading) == (0..<4).map(MockTokens.token(at:)))
        #expect(events.last?.data == "[DONE]")
        #expect(reading.last == .end && reading.plan.keepAlive)

        let anthropic = plan("POST", "/v1/messages", headers: [("x-mock-malformed-after", "0")], settings: settings)
        let broken = anthropic.events.filter { data($0.event) == nil }
        #expect(broken.count == 1)
        #expect(broken.first?.event.event == "content_block_delta")
    }

    @Test func tricklesEveryEventInSmallPieces() throws {
        var settings = instant
        settings.tokens = 2
        let whole = plan(settings: settings)
        let trickled = plan(headers: [("x-mock-trickle", "20ms")], settings: settings)
        #expect(trickled.body == whole.body)
        #expect(trickled.pieces.allSatisfy { $0.bytes.count <= MockFaults.tricklePieceSize })
        #expect(trickled.pieces.count > whole.pieces.count * 10)
        // Within the role chunk, pieces are 20ms apart.
        let roleChunkPieces = (whole.pieces[0].bytes.count + 4) / 5
        let times = trickled.pieces.prefix(roleChunkPieces).map(\.at)
        #expect(times == (0..<roleChunkPieces).map { .milliseconds(20 * $0) })
        #expect(trickled.events.map(\.event) == whole.events.map(\.event))
    }

    @Test func sendsAnErrorEventInTheRequestsDialect() throws {
        let openai = plan(headers: [("x-mock-error-event", "2")])
        #expect(openai.status == 200)
        #expect(chatContents(openai).count == 2)
        let error = try #require(openai.events.last?.event)
        #expect(error.event == nil)
        #expect((data(error)?["error"] as? [String: Any])?["type"] as? String == "server_error")
        #expect(!openai.bodyText.contains("[DONE]"))
        #expect(openai.last == .end)

        let anthropic = plan("POST", "/v1/messages", headers: [("x-mock-error-event", "0")])
        #expect(anthropic.events.map { $0.event.event } == ["message_start", "content_block_start", "ping", "error"])
        let anthropicError = try #require(anthropic.events.last)
        #expect(data(anthropicError.event)?["type"] as? String == "error")
        // Error 0 comes when the first token was due.
        #expect(anthropicError.at == .milliseconds(100))
    }

    @Test func endsTheMessageCleanlyWithoutTheFinishingEvents() throws {
        let openai = plan(headers: [("x-mock-end-after", "3")])
        #expect(chatContents(openai).count == 3)
        #expect(!openai.bodyText.contains("[DONE]"))
        #expect(!openai.bodyText.contains("finish_reason\":\"stop"))
        #expect(openai.last == .end)

        let anthropic = plan("POST", "/v1/messages", headers: [("x-mock-end-after", "0")])
        #expect(anthropic.events.map { $0.event.event } == ["message_start", "content_block_start", "ping"])
        #expect(anthropic.last == .end)
        // For streams only.
        #expect(plan(headers: [("x-mock-end-after", "0")], body: "{}", settings: instant).json?["choices"] != nil)
    }

    @Test func framesAStreamByTheCloseWhenAsked() throws {
        let closed = plan(headers: [("x-mock-framing", "close")])
        let head = try #require(closed.head)
        #expect(head.headers["transfer-encoding"] == nil)
        #expect(head.headers["content-length"] == nil)
        #expect(head.headers["connection"] == "close")
        #expect(closed.bodyText.contains("[DONE]"))
        #expect(closed.last == .end)
        #expect(plan(headers: [("x-mock-framing", "chunked")]).head?.headers["transfer-encoding"] == "chunked")
    }

    @Test func overridesSettingsPerRequest() {
        let reading = plan(headers: [("x-mock-ttft", "1s"), ("x-mock-tps", "10"), ("x-mock-tokens", "2")])
        #expect(chatContents(reading).count == 2)
        #expect(reading.events.map(\.at).dropFirst().prefix(2) == [.seconds(1), .milliseconds(1100)])
    }

    @Test func cutsWholeAnswersToo() throws {
        let none = plan(headers: [("x-mock-reset-after", "0")], body: "{}", settings: instant)
        #expect(none.head == nil)
        #expect(none.last == .reset)

        let half = plan(headers: [("x-mock-close-after", "1")], body: "{}", settings: instant)
        let length = try #require(half.head?.headers["content-length"].flatMap { Int($0) })
        #expect(half.body.count == length / 2)
        #expect(half.last == .close)

        let malformed = plan(headers: [("x-mock-malformed-after", "0")], body: "{}", settings: instant)
        #expect(malformed.json == nil)
        #expect(malformed.head?.headers["content-length"] == String(malformed.body.count))
        #expect(malformed.last == .end)

        // The error event is for streams only.
        #expect(plan(headers: [("x-mock-error-event", "0")], body: "{}", settings: instant).json?["choices"] != nil)
    }

    @Test(arguments: [
        ("x-mock-status", "200", "x-mock-status: expected an error status"),
        ("x-mock-status", "abc", "x-mock-status: expected a whole number"),
        ("x-mock-retry-after", "soon", "x-mock-retry-after:"),
        ("x-mock-head-delay", "5", "x-mock-head-delay: expected a duration"),
        ("x-mock-stall-after", "-1", "x-mock-stall-after:"),
        ("x-mock-reset-after", "x", "x-mock-reset-after:"),
        ("x-mock-close-after", "", "x-mock-close-after:"),
        ("x-mock-malformed-after", "1.5", "x-mock-malformed-after:"),
        ("x-mock-trickle", "fast", "x-mock-trickle:"),
        ("x-mock-error-event", "one", "x-mock-error-event:"),
        ("x-mock-end-after", "-2", "x-mock-end-after:"),
        ("x-mock-framing", "length", "x-mock-framing: expected chunked or close"),
        ("x-mock-ttft", "1h", "x-mock-ttft:"),
        ("x-mock-tps", "0", "x-mock-tps:"),
        ("x-mock-tokens", "many", "x-mock-tokens:"),
        // Caps: any client can send these headers (issue 12, item 5).
        ("x-mock-tokens", "100001", "x-mock-tokens: at most 100000 tokens per request, asked for 100001"),
        ("x-mock-tokens", "1000000", "x-mock-tokens: at most 100000 tokens per request"),
        ("x-mock-head-delay", "61s", "x-mock-head-delay: at most 60"),
        ("x-mock-ttft", "90s", "x-mock-ttft: at most 60"),
        ("x-mock-trickle", "61s", "x-mock-trickle: at most 60"),
    ])
    func refusesBadFaultHeaders(name: String, value: String, message: String) throws {
        let reading = plan(headers: [(name, value), ("x-mock-head-delay", name == "x-mock-head-delay" ? value : "1s")])
        #expect(reading.status == 400)
        #expect(reading.headAt == .zero)
        let error = try #require(reading.json?["error"] as? [String: Any])
        #expect((error["message"] as? String)?.hasPrefix(message) == true, "\(String(describing: error["message"]))")
    }

    @Test func refusesTwoInterruptions() throws {
        let reading = plan(headers: [("x-mock-stall-after", "1"), ("x-mock-reset-after", "2")])
        #expect(reading.status == 400)
        let message = (reading.json?["error"] as? [String: Any])?["message"] as? String
        #expect(message == "x-mock-reset-after: cannot be combined with x-mock-stall-after")
    }

    @Test func headerNamesArePublic() {
        #expect(MockFaultHeader.allCases.map(\.name) == [
            "x-mock-status", "x-mock-retry-after", "x-mock-head-delay", "x-mock-stall-after", "x-mock-reset-after",
            "x-mock-close-after", "x-mock-malformed-after", "x-mock-trickle", "x-mock-error-event", "x-mock-end-after",
            "x-mock-framing", "x-mock-ttft",
            "x-mock-tps", "x-mock-tokens",
        ])
    }
}
