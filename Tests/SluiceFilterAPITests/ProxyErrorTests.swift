import Testing
@testable import SluiceFilterAPI

private func text(_ bytes: [UInt8]) -> String {
    String(decoding: bytes, as: UTF8.self)
}

private func headerValue(_ headers: [(String, String)], _ name: String) -> String? {
    headers.first { $0.0 == name }?.1
}

@Suite struct ProxyErrorTests {
    @Test func openAIResponse() {
        let error = ProxyError(.firstTokenTimeout, "no token within 30s", source: .upstream)
        let response = error.renderedResponse()
        let body = #"{"error":{"type":"first_token_timeout","message":"no token within 30s","code":504}}"#
        #expect(response.status == 504)
        #expect(text(response.body) == body)
        #expect(response.headers.map { "\($0.0): \($0.1)" } == [
            "content-type: application/json",
            "content-length: \(body.utf8.count)",
        ])
    }

    @Test func anthropicResponse() {
        let error = ProxyError(.rateLimited, "slow down", retryAfterSeconds: 7)
        let response = error.renderedResponse(dialect: .anthropic)
        let body = #"{"type":"error","error":{"type":"rate_limit_error","message":"slow down","sluice_kind":"rate_limited"}}"#
        #expect(response.status == 429)
        #expect(text(response.body) == body)
        #expect(response.headers.map { "\($0.0): \($0.1)" } == [
            "content-type: application/json",
            "content-length: \(body.utf8.count)",
            "retry-after: 7",
        ])
    }

    @Test func retryAfterAndExtraHeaders() {
        let error = ProxyError(
            .rateLimited, "bucket empty", source: .filter("rate-limit"), retryAfterSeconds: 2,
            headers: [("RateLimit-Limit", "10"), ("RateLimit-Remaining", "0")]
        )
        let headers = error.renderedResponse().headers
        #expect(headers.map(\.0) == ["content-type", "content-length", "retry-after", "RateLimit-Limit", "RateLimit-Remaining"])
        #expect(headerValue(headers, "retry-after") == "2")
        #expect(headerValue(ProxyError(.overloaded, "x", retryAfterSeconds: -1).renderedResponse().headers, "retry-after") == nil)
        #expect(headerValue(ProxyError(.overloaded, "x").renderedResponse().headers, "retry-after") == nil)
    }

    @Test func openAISSEEvent() {
        let error = ProxyError(.idleTimeout, "upstream silent for 60s", source: .upstream)
        #expect(text(error.sseEvent(dialect: .openai)) ==
            "data: {\"error\":{\"type\":\"idle_timeout\",\"message\":\"upstream silent for 60s\",\"code\":504}}\n\n")
    }

    @Test func anthropicSSEEvent() {
        let error = ProxyError(.overloaded, "too many streams")
        #expect(text(error.sseEvent(dialect: .anthropic)) ==
            "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"too many streams\",\"sluice_kind\":\"overloaded\"}}\n\n")
    }

    @Test func messagesAreEscaped() {
        let error = ProxyError(.badRequest, "say \"hi\"\nnext\ttab\u{01}\u{1F}\\ é 😀\r\u{08}\u{0C}/")
        let escaped = #""say \"hi\"\nnext\ttab\u0001\u001f\\ é 😀\r\b\f/""#
        #expect(text(error.renderedResponse().body) == #"{"error":{"type":"bad_request","message":"# + escaped + #","code":400}}"#)
        #expect(text(error.sseEvent(dialect: .anthropic)) ==
            #"event: error"# + "\n" + #"data: {"type":"error","error":{"type":"invalid_request_error","message":"# + escaped + #","sluice_kind":"bad_request"}}"# + "\n\n")
    }

    @Test(arguments: StreamDialect.allCases)
    func sseEventParsesBackAsOneErrorEvent(_ dialect: StreamDialect) throws {
        let message = "line1\nline2\r\n\"quoted\" \u{0} end"
        let error = ProxyError(.upstreamReset, message, source: .upstream)
        var parser = SSEParser()
        let items = try parser.feed(error.sseEvent(dialect: dialect))
        #expect(items.count == 1)
        guard case .event(let event) = items.first else {
            Issue.record("not an event")
            return
        }
        #expect(event.event == (dialect == .anthropic ? "error" : nil))
        let info = LLMEventClassifier.classify(event, dialect: dialect)
        #expect(info.kind == .error)
        #expect(info.errorMessage == message)
        #expect(!parser.hasPartialEvent)
    }

    @Test func defaultStatuses() {
        let expected: [ProxyError.Kind: Int] = [
            .badRequest: 400, .unauthorized: 401, .forbidden: 403, .notFound: 404, .requestTooLarge: 413,
            .rateLimited: 429, .overloaded: 503, .queueTimeout: 503, .circuitOpen: 503, .noUpstream: 503,
            .connectFailed: 502, .connectTimeout: 504, .responseHeadTimeout: 504,
            .firstTokenTimeout: 504, .idleTimeout: 504, .totalTimeout: 504,
            .upstreamReset: 502, .upstreamProtocol: 502, .upstreamError: 502,
            .clientTimeout: 408, .slowClient: 408, .clientClosed: 499, .maxAge: 503, .serverShutdown: 503, .internalError: 500,
        ]
        #expect(expected.count == ProxyError.Kind.allCases.count)
        for kind in ProxyError.Kind.allCases {
            #expect(ProxyError(kind, "m").status == expected[kind], "\(kind)")
        }
    }

    @Test func defaultRetryable() {
        let retryable: Set<ProxyError.Kind> = [
            .rateLimited, .overloaded, .queueTimeout, .circuitOpen, .noUpstream, .connectFailed,
            .connectTimeout, .responseHeadTimeout, .firstTokenTimeout, .upstreamReset, .maxAge, .serverShutdown,
        ]
        for kind in ProxyError.Kind.allCases {
            #expect(ProxyError(kind, "m").retryable == retryable.contains(kind), "\(kind)")
        }
    }

    @Test func overrides() {
        let error = ProxyError(.upstreamReset, "reset after head", source: .upstream, status: 500, retryable: false)
        #expect(error.status == 500)
        #expect(!error.retryable)
        #expect(error.renderedResponse().status == 500)
        #expect(text(error.renderedResponse().body).hasSuffix(#""code":500}}"#))
    }

    @Test func anthropicTypesAreFromTheDocumentedSet() {
        let documented: Set<String> = [
            "invalid_request_error", "authentication_error", "permission_error", "not_found_error",
            "request_too_large", "rate_limit_error", "api_error", "overloaded_error", "timeout_error",
        ]
        for kind in ProxyError.Kind.allCases {
            #expect(documented.contains(kind.anthropicErrorType), "\(kind)")
        }
        #expect(ProxyError.Kind.unauthorized.anthropicErrorType == "authentication_error")
        #expect(ProxyError.Kind.queueTimeout.anthropicErrorType == "overloaded_error")
        #expect(ProxyError.Kind.firstTokenTimeout.anthropicErrorType == "timeout_error")
        #expect(ProxyError.Kind.upstreamError.anthropicErrorType == "api_error")
    }

    @Test func kindNamesAreStableAndUnique() {
        let names = ProxyError.Kind.allCases.map(\.rawValue)
        #expect(Set(names).count == names.count)
        #expect(ProxyError.Kind.unauthorized.rawValue == "unauthorized")
        #expect(ProxyError.Kind.upstreamProtocol.rawValue == "upstream_protocol_error")
        #expect(names.allSatisfy { $0.allSatisfy { $0 == "_" || ("a"..."z").contains($0) } })
    }

    @Test func description() {
        #expect(ProxyError(.firstTokenTimeout, "no token in 30s", source: .upstream).description ==
            "first_token_timeout (upstream, 504): no token in 30s")
        #expect(ProxyError(.forbidden, "blocked", source: .filter("ip-allow")).description ==
            "forbidden (filter ip-allow, 403): blocked")
    }

    @Test func isAnError() throws {
        func fail() throws { throw ProxyError(.internalError, "boom") }
        #expect(throws: ProxyError.self) { try fail() }
    }
}

extension ProxyErrorTests {
    /// A filter can speak the provider's own vocabulary: OpenAI's `invalid_request_error` with code
    /// `context_length_exceeded`, Anthropic's `invalid_request_error`, the Sluice kind alongside.
    @Test func aClientTypeAndCodeRenderAsTheProviderWouldSendThem() {
        let error = ProxyError(.badRequest, "too long", clientType: "invalid_request_error", code: "context_length_exceeded")
        #expect(String(decoding: error.jsonBody(dialect: .openai), as: UTF8.self)
            == #"{"error":{"type":"invalid_request_error","message":"too long","code":"context_length_exceeded","sluice_kind":"bad_request"}}"#)
        #expect(String(decoding: error.jsonBody(dialect: .anthropic), as: UTF8.self)
            == #"{"type":"error","error":{"type":"invalid_request_error","message":"too long","sluice_kind":"bad_request"}}"#)
        let typeOnly = ProxyError(.rateLimited, "slow down", clientType: "tokens")
        #expect(String(decoding: typeOnly.jsonBody(dialect: .openai), as: UTF8.self)
            == #"{"error":{"type":"tokens","message":"slow down","code":429,"sluice_kind":"rate_limited"}}"#)
        // Without them, the body is as before.
        #expect(String(decoding: ProxyError(.rateLimited, "x").jsonBody(dialect: .openai), as: UTF8.self)
            == #"{"error":{"type":"rate_limited","message":"x","code":429}}"#)
    }

    /// Decisions compare, so a unit test reads `#expect(filter.onRequest(x) == .next)`.
    @Test func decisionsAreEquatable() {
        let refusal = ProxyError(.rateLimited, "x", headers: [("a", "1")])
        #expect(Decision.reject(refusal) == .reject(ProxyError(.rateLimited, "x", headers: [("a", "1")])))
        #expect(Decision.reject(refusal) != .reject(ProxyError(.rateLimited, "x", headers: [("a", "2")])))
        #expect(Decision.retry(after: .seconds(1)) != .retry(after: nil))
        #expect(Decision.reply(HTTPResponseHead(status: 200), body: [1]) == .reply(HTTPResponseHead(status: 200), body: [1]))
        #expect(EventDecision.prepend([SSEEvent(data: "a")]) == .prepend([SSEEvent(data: "a")]))
        #expect(EventDecision.pass != .drop)
    }
}
