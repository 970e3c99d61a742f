import SluiceFilterAPI

/// The OpenAI response shapes of the mock: `/v1/chat/completions` and `/v1/completions`,
/// streamed (chunks in `data:` lines, then `data: [DONE]`) and whole.
///
/// Ids and `created` are constants so that a plan is a pure function of its request.
enum MockOpenAIResponses {
    static let created = 1_700_000_000

    /// The streamed events: for chat a role-only chunk first, then one content chunk per token,
    /// a finish chunk (`"stop"`, or `"length"` when `max_tokens` cut it), an optional usage chunk
    /// with empty `choices`, and `[DONE]`.
    static func streamScript(_ completion: MockCompletion, chat: Bool) -> MockStreamScript {
        let model = JSONText.quoted(completion.model)
        let prefix = chat
            ? #"{"id":"chatcmpl-mock","object":"chat.completion.chunk","created":\#(created),"model":\#(model),"#
            : #"{"id":"cmpl-mock","object":"text_completion","created":\#(created),"model":\#(model),"#

        @Sendable func choice(_ body: String, finishReason: String?) -> [UInt8] {
            let reason = finishReason.map { "\"\($0)\"" } ?? "null"
            let choices = chat
                ? #""choices":[{"index":0,"delta":\#(body),"logprobs":null,"finish_reason":\#(reason)}]}"#
                : #""choices":[{"text":\#(body),"index":0,"logprobs":null,"finish_reason":\#(reason)}]}"#
            return SSEEvent(data: prefix + choices).serialized
        }
        @Sendable func delta(_ text: String) -> String {
            chat ? #"{"content":\#(JSONText.quoted(text))}"# : JSONText.quoted(text)
        }

        let preamble = chat ? [choice(#"{"role":"assistant"}"#, finishReason: nil)] : []
        let contentEvent: @Sendable (Int) -> [UInt8] = { choice(delta(MockTokens.token(at: $0)), finishReason: nil) }
        var finish = [choice(chat ? "{}" : #""""#, finishReason: finishReason(completion))]
        if completion.includeUsage {
            finish.append(SSEEvent(data: prefix + #""choices":[],"usage":\#(usage(completion))}"#).serialized)
        }
        finish.append(SSEEvent(data: "[DONE]").serialized)

        let error = #"{"error":{"type":"server_error","message":"mock error event (x-mock-error-event)","param":null,"code":null}}"#
        // Cut inside a string so that no JSON parser can accept it.
        let malformed = prefix + #""choices":[{"index":0,"delta":{"content":"malfor"#
        return MockStreamScript(
            preamble: preamble,
            contentCount: completion.tokenCount,
            contentEvent: contentEvent,
            finish: finish,
            errorEvent: SSEEvent(data: error).serialized,
            malformedEvent: SSEEvent(data: malformed).serialized
        )
    }

    /// The whole (non-streamed) response body, with usage.
    static func body(_ completion: MockCompletion, chat: Bool) -> [UInt8] {
        let model = JSONText.quoted(completion.model)
        let text = JSONText.quoted(completion.text)
        let reason = finishReason(completion)
        let json = chat
            ? #"{"id":"chatcmpl-mock","object":"chat.completion","created":\#(created),"model":\#(model),"choices":[{"index":0,"message":{"role":"assistant","content":\#(text)},"logprobs":null,"finish_reason":"\#(reason)"}],"usage":\#(usage(completion))}"#
            : #"{"id":"cmpl-mock","object":"text_completion","created":\#(created),"model":\#(model),"choices":[{"text":\#(text),"index":0,"logprobs":null,"finish_reason":"\#(reason)"}],"usage":\#(usage(completion))}"#
        return Array(json.utf8)
    }

    /// The `GET /v1/models` body: a list holding the settings' model.
    static func modelList(_ model: String) -> [UInt8] {
        Array(#"{"object":"list","data":[{"id":\#(JSONText.quoted(model)),"object":"model","created":\#(created),"owned_by":"sluice"}]}"#.utf8)
    }

    private static func finishReason(_ completion: MockCompletion) -> String {
        completion.truncatedByMaxTokens ? "length" : "stop"
    }

    private static func usage(_ completion: MockCompletion) -> String {
        let total = completion.promptTokens + completion.tokenCount
        return #"{"prompt_tokens":\#(completion.promptTokens),"completion_tokens":\#(completion.tokenCount),"total_tokens":\#(total)}"#
    }
}
