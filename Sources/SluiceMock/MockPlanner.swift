import SluiceFilterAPI
import SluiceHTTP

/// Turns a request into the timed plan the mock server executes. Pure: the same request and
/// settings always give the same plan, and nothing here reads the clock or does I/O.
///
/// Endpoints:
/// - `POST /v1/chat/completions`, `POST /v1/completions`: OpenAI. With `"stream": true` a
///   chunked `text/event-stream` (see `MockOpenAIResponses`), otherwise one JSON body with
///   Content-Length.
/// - `POST /v1/messages`: Anthropic, streamed or whole (see `MockAnthropicResponses`).
/// - `GET /v1/models`: the list with `MockSettings.model`.
///
/// Tokens are `MockTokens`; `max_tokens` / `max_completion_tokens` cap their count.
///
/// Timing of a streamed answer, from the moment the planner's caller starts the plan:
/// `x-mock-head-delay`, the head and the preamble at once, the first content event after
/// `timeToFirstToken`, each following one `1 / tokensPerSecond` later, and the finishing events
/// right after the last content event (at `timeToFirstToken` when there are no tokens).
/// A whole answer is sent at once after the time the stream would have taken to its last token:
/// `x-mock-head-delay + timeToFirstToken + (tokens - 1) / tokensPerSecond`; `/v1/models` and
/// errors after `x-mock-head-delay` only.
///
/// Connections: `MockPlan.keepAlive` follows the request (`HTTPRequestHead.keepAlive`), and the
/// head says `Connection: close` when it is false. An HTTP/1.0 client cannot read chunked
/// bodies, so its streams are close-delimited (no Transfer-Encoding, never kept alive). A
/// response to HEAD has its head only.
///
/// Errors, as JSON bodies in the endpoint's dialect (`MockErrorBody`): 400 for an unreadable
/// fault header (no other fault applies then) or a bad body, 404 for an unknown path, 405 (with
/// `Allow`) for a known path with the wrong method, and the `x-mock-status` status. Faults are
/// described by `MockFaults`.
public enum MockPlanner {
    /// The plan answering `request`. Called by the mock server once the whole request body has
    /// been read, on whatever thread serves the connection.
    public static func plan(_ request: MockRequest, settings: MockSettings) -> MockPlan {
        let head = request.head
        let dialect = StreamDialect.forPath(head.path)
        let faults: MockFaults
        do {
            faults = try MockFaults(headers: head.headers)
        } catch {
            return errorPlan(400, error.description, dialect: dialect, request: head, faults: MockFaults())
        }

        let endpoint: MockEndpoint
        switch MockEndpoint.route(method: head.method, path: head.path) {
        case .success(let routed):
            endpoint = routed
        case .failure(.notFound):
            return errorPlan(404, "unknown path \(head.path)", dialect: dialect, request: head, faults: faults)
        case .failure(.methodNotAllowed(let allowed)):
            return errorPlan(
                405, "method \(head.method) is not allowed on \(head.path); use \(allowed)",
                dialect: dialect, request: head, faults: faults, extraHeaders: [("allow", allowed)])
        }

        if let status = faults.status {
            return errorPlan(status, "mock error status \(status) (x-mock-status)", dialect: dialect, request: head, faults: faults)
        }
        let settings = faults.applied(to: settings)

        if endpoint == .models {
            return wholePlan(
                body: MockOpenAIResponses.modelList(settings.model), generationTime: .zero,
                request: head, faults: faults)
        }

        let generation: MockGenerationRequest
        switch MockGenerationRequest.parse(request.body, for: endpoint) {
        case .success(let parsed): generation = parsed
        case .failure(let error):
            return errorPlan(400, error.message, dialect: dialect, request: head, faults: faults)
        }
        let completion = MockCompletion(request: generation, settings: settings)

        if generation.stream {
            let script = switch endpoint {
            case .messages: MockAnthropicResponses.streamScript(completion)
            default: MockOpenAIResponses.streamScript(completion, chat: endpoint == .chatCompletions)
            }
            return streamPlan(script, settings: settings, request: head, faults: faults)
        }
        let body = switch endpoint {
        case .messages: MockAnthropicResponses.body(completion)
        default: MockOpenAIResponses.body(completion, chat: endpoint == .chatCompletions)
        }
        var generationTime = settings.timeToFirstToken
        if completion.tokenCount > 1 { generationTime += settings.interTokenDelay * (completion.tokenCount - 1) }
        return wholePlan(body: body, generationTime: generationTime, request: head, faults: faults)
    }

    // MARK: - Streamed answers

    private static func streamPlan(
        _ script: MockStreamScript, settings: MockSettings, request: HTTPRequestHead, faults: MockFaults
    ) -> MockPlan {
        // HTTP/1.0 clients cannot read chunked bodies: they get a body delimited by the close.
        let chunked = request.version != .http1_0 && faults.framing != .close
        let keepAlive = chunked && request.keepAlive
        var headers: HTTPHeaders = ["content-type": "text/event-stream", "cache-control": "no-cache"]
        if chunked { headers.add("transfer-encoding", "chunked") }
        addCommonHeaders(to: &headers, request: request, keepAlive: keepAlive, faults: faults)

        var builder = MockPlanBuilder(trickle: faults.trickle)
        builder.wait(faults.headDelay)
        builder.head(HTTPResponseHead(status: 200, headers: headers))
        for event in script.preamble { builder.send(event) }

        // Slot i < count is content event i; slot count is the finishing events. Faults asking
        // for more content events than there are land on the finishing slot. Slots with nothing
        // but their wait and their event are left to a content run, made as the plan executes.
        let count = script.contentCount
        let interruptAt = faults.interruption.map { min($0.afterContentEvents, count) }
        let malformedAt = faults.malformedAfter.map { min($0, count) }
        func run(_ range: Range<Int>) {
            builder.content(MockContentRun(
                range: range, event: script.contentEvent, firstWait: settings.timeToFirstToken,
                wait: settings.interTokenDelay, trickle: faults.trickle))
        }
        var plain = 0
        for slot in [malformedAt, interruptAt, count].compactMap({ $0 }).sorted() where slot >= plain {
            run(plain..<slot)
            plain = slot + 1
            if slot == 0 {
                builder.wait(settings.timeToFirstToken)
            } else if slot < count {
                builder.wait(settings.interTokenDelay)
            }
            if slot == interruptAt, let interruption = faults.interruption {
                switch interruption.kind {
                case .stall: return builder.finished(with: .stall, keepAlive: false)
                case .reset: return builder.finished(with: .reset, keepAlive: false)
                case .close: return builder.finished(with: .close, keepAlive: false)
                case .errorEvent:
                    builder.send(script.errorEvent)
                    return builder.finished(with: .end, keepAlive: keepAlive)
                case .end:
                    return builder.finished(with: .end, keepAlive: keepAlive)
                }
            }
            if slot == malformedAt { builder.send(script.malformedEvent) }
            if slot < count {
                builder.send(script.contentEvent(slot))
            } else {
                for event in script.finish { builder.send(event) }
            }
        }
        return builder.finished(with: .end, keepAlive: keepAlive)
    }

    // MARK: - Whole answers

    /// A JSON body with Content-Length, sent after `headDelay + generationTime`. Stall, reset and
    /// close happen instead of the head (N = 0) or after half the body (N > 0); malformed cuts the
    /// body in half; the error event does not apply.
    private static func wholePlan(
        body: [UInt8], generationTime: Duration, request: HTTPRequestHead, faults: MockFaults
    ) -> MockPlan {
        var body = body
        if faults.malformedAfter != nil { body = Array(body.prefix(body.count / 2)) }
        let cut: MockStep? = switch faults.interruption?.kind {
        case .stall: .stall
        case .reset: .reset
        case .close: .close
        case .errorEvent, .end, nil: nil
        }

        var builder = MockPlanBuilder(trickle: faults.trickle)
        builder.wait(faults.headDelay + generationTime)
        if let cut, faults.interruption?.afterContentEvents == 0 {
            return builder.finished(with: cut, keepAlive: false)
        }
        return sendWhole(
            status: 200, body: body, request: request, faults: faults, extraHeaders: [], cut: cut, builder: builder)
    }

    /// An error status with a JSON error body. Only head delay, retry-after and trickle apply.
    private static func errorPlan(
        _ status: Int, _ message: String, dialect: StreamDialect, request: HTTPRequestHead, faults: MockFaults,
        extraHeaders: [(String, String)] = []
    ) -> MockPlan {
        var builder = MockPlanBuilder(trickle: faults.trickle)
        builder.wait(faults.headDelay)
        return sendWhole(
            status: status, body: MockErrorBody.json(status: status, message: message, dialect: dialect),
            request: request, faults: faults, extraHeaders: extraHeaders, cut: nil, builder: builder)
    }

    /// Head and Content-Length body; with `cut`, half of the body and then that step.
    private static func sendWhole(
        status: Int, body: [UInt8], request: HTTPRequestHead, faults: MockFaults, extraHeaders: [(String, String)],
        cut: MockStep?, builder: MockPlanBuilder
    ) -> MockPlan {
        var builder = builder
        let keepAlive = request.keepAlive
        var headers: HTTPHeaders = ["content-type": "application/json", "content-length": String(body.count)]
        for (name, value) in extraHeaders { headers.add(name, value) }
        addCommonHeaders(to: &headers, request: request, keepAlive: keepAlive, faults: faults)
        builder.head(HTTPResponseHead(status: status, headers: headers))
        // A response to HEAD announces its length but carries no body.
        let sendsBody = request.method != "HEAD"
        if let cut {
            if sendsBody { builder.send(Array(body.prefix(body.count / 2))) }
            return builder.finished(with: cut, keepAlive: false)
        }
        if sendsBody { builder.send(body) }
        return builder.finished(with: .end, keepAlive: keepAlive)
    }

    /// `Retry-After` when asked, and the Connection field the client needs to know whether the
    /// connection persists.
    private static func addCommonHeaders(
        to headers: inout HTTPHeaders, request: HTTPRequestHead, keepAlive: Bool, faults: MockFaults
    ) {
        if let seconds = faults.retryAfterSeconds { headers.add("retry-after", String(seconds)) }
        if !keepAlive {
            headers.add("connection", "close")
        } else if request.version == .http1_0 {
            headers.add("connection", "keep-alive")
        }
    }
}
