import SluiceFilterAPI

/// The Anthropic response shapes of the mock (`/v1/messages`), streamed (named events) and whole.
enum MockAnthropicResponses {
    /// The streamed events: `message_start` (with `usage.input_tokens`), `content_block_start` and
    /// `ping` first; a `content_block_delta` with a `text_delta` per token; then
    /// `content_block_stop`, `message_delta` (stop reason `end_turn`, or `max_tokens` when
    /// `max_tokens` cut it, and `usage.output_tokens`) and `message_stop`.
    static func streamScript(_ completion: MockCompletion) -> MockStreamScript {
        let model = JSONText.quoted(completion.model)
        let preamble = [
            SSEEvent(event: "message_start", data: #"{"type":"message_start","message":{"id":"msg_mock","type":"message","role":"assistant","model":\#(model),"content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":\#(completion.promptTokens),"output_tokens":1}}}"#).serialized,
            SSEEvent(event: "content_block_start", data: #"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#).serialized,
            SSEEvent(event: "ping", data: #"{"type":"ping"}"#).serialized,
        ]
        let contentEvent: @Sendable (Int) -> [UInt8] = { index in
            SSEEvent(event: "content_block_delta", data: #"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":\#(JSONText.quoted(MockTokens.token(at: index)))}}"#).serialized
        }
        let finish = [
            SSEEvent(event: "content_block_stop", data: #"{"type":"content_block_stop","index":0}"#).serialized,
            SSEEvent(event: "message_delta", data: #"{"type":"message_delta","delta":{"stop_reason":"\#(stopReason(completion))","stop_sequence":null},"usage":{"output_tokens":\#(completion.tokenCount)}}"#).serialized,
            SSEEvent(event: "message_stop", data: #"{"type":"message_stop"}"#).serialized,
        ]
        let error = #"{"type":"error","error":{"type":"overloaded_error","message":"mock error event (x-mock-error-event)"}}"#
        // Cut inside a string so that no JSON parser can accept it.
        let malformed = #"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"malfor"#
        return MockStreamScript(
            preamble: preamble,
            contentCount: completion.tokenCount,
            contentEvent: contentEvent,
            finish: finish,
            errorEvent: SSEEvent(event: "error", data: error).serialized,
            malformedEvent: SSEEvent(event: "content_block_delta", data: malformed).serialized
        )
    }

    /// The whole (non-streamed) message.
    static func body(_ completion: MockCompletion) -> [UInt8] {
        let json = #"{"id":"msg_mock","type":"message","role":"assistant","model":\#(JSONText.quoted(completion.model)),"content":[{"type":"text","text":\#(JSONText.quoted(completion.text))}],"stop_reason":"\#(stopReason(completion))","stop_sequence":null,"usage":{"input_tokens":\#(completion.promptTokens),"output_tokens":\#(completion.tokenCount)}}"#
        return Array(json.utf8)
    }

    private static func stopReason(_ completion: MockCompletion) -> String {
        completion.truncatedByMaxTokens ? "max_tokens" : "end_turn"
    }
}
