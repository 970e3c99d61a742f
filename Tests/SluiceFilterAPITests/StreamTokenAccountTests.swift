import Testing
@testable import SluiceFilterAPI

/// Parses a whole SSE body and records every event, as the engine does for a stream.
private func account(_ body: String, dialect: StreamDialect) throws -> StreamTokenAccount {
    var parser = SSEParser()
    var account = StreamTokenAccount(dialect: dialect)
    for item in try parser.feed(Array(body.utf8)) {
        if case .event(let event) = item { account.record(event) }
    }
    #expect(!parser.hasPartialEvent)
    return account
}

private let openAIStream = """
data: {"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}],"usage":null}

data: {"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"Hel"},"finish_reason":null}],"usage":null}

data: {"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"lo"},"finish_reason":null}],"usage":null}

: keep-alive

data: {"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"!"},"finish_reason":null}],"usage":null}

data: {"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"usage":null}

data: {"id":"c1","object":"chat.completion.chunk","choices":[],"usage":{"prompt_tokens":9,"completion_tokens":4,"total_tokens":13}}

data: [DONE]


"""

private let anthropicStream = """
event: message_start
data: {"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","model":"claude","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":25,"cache_creation_input_tokens":10,"cache_read_input_tokens":0,"output_tokens":1}}}

event: content_block_start
data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}

event: ping
data: {"type": "ping"}

event: content_block_delta
data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hello"}}

event: content_block_delta
data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":" there"}}

event: content_block_stop
data: {"type":"content_block_stop","index":0}

event: message_delta
data: {"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":15}}

event: message_stop
data: {"type":"message_stop"}


"""

@Suite struct StreamTokenAccountTests {
    @Test func openAIStreamWithUsage() throws {
        let a = try account(openAIStream, dialect: .openai)
        #expect(a.events == 7)
        #expect(a.contentEvents == 3)
        #expect(a.sawFirstToken)
        #expect(a.usage == TokenUsage(promptTokens: 9, completionTokens: 4))
        #expect(a.usage?.totalTokens == 13)
        #expect(a.completionTokens == 4)
        #expect(a.finishReason == "stop")
        #expect(a.sawDone)
        #expect(!a.sawError)
    }

    @Test func openAIStreamWithoutUsageCountsContentEvents() throws {
        let body = openAIStream.replacingUsageChunk()
        let a = try account(body, dialect: .openai)
        #expect(a.usage == nil)
        #expect(a.completionTokens == 3)
        #expect(a.sawDone)
    }

    @Test func openAIStreamCutShort() throws {
        var a = StreamTokenAccount(dialect: .openai)
        a.record(SSEEvent(data: #"{"choices":[{"index":0,"delta":{"content":"Hi"}}]}"#))
        #expect(!a.sawDone)
        #expect(a.completionTokens == 1)
    }

    @Test func openAIErrorMidStream() throws {
        var a = StreamTokenAccount(dialect: .openai)
        a.record(SSEEvent(data: #"{"choices":[{"index":0,"delta":{"content":"Hi"}}]}"#))
        let info = a.record(SSEEvent(data: #"{"error":{"message":"upstream died","type":"server_error"}}"#))
        #expect(info.kind == .error)
        #expect(a.sawError)
        #expect(a.errorMessage == "upstream died")
        #expect(!a.sawDone)
        #expect(a.contentEvents == 1)
    }

    @Test func anthropicStreamMergesUsage() throws {
        let a = try account(anthropicStream, dialect: .anthropic)
        #expect(a.events == 8)
        #expect(a.contentEvents == 2)
        #expect(a.usage == TokenUsage(promptTokens: 35, completionTokens: 15))
        #expect(a.usage?.totalTokens == 50)
        #expect(a.completionTokens == 15)
        #expect(a.finishReason == "end_turn")
        #expect(a.sawDone)
        #expect(!a.sawError)
    }

    @Test func anthropicCutBeforeMessageDelta() throws {
        var a = StreamTokenAccount(dialect: .anthropic)
        a.record(SSEEvent(event: "message_start", data: #"{"type":"message_start","message":{"usage":{"input_tokens":5,"output_tokens":1}}}"#))
        a.record(SSEEvent(event: "content_block_delta", data: #"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"a"}}"#))
        a.record(SSEEvent(event: "content_block_delta", data: #"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"b"}}"#))
        // The placeholder output_tokens of message_start is not taken for the answer.
        #expect(a.usage == TokenUsage(promptTokens: 5))
        #expect(a.usage?.totalTokens == nil)
        #expect(a.completionTokens == 2)
        #expect(!a.sawDone)
    }

    @Test func anthropicErrorEvent() throws {
        var a = StreamTokenAccount(dialect: .anthropic)
        a.record(SSEEvent(event: "error", data: #"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#))
        #expect(a.sawError)
        #expect(a.errorMessage == "Overloaded")
        #expect(!a.sawFirstToken)
    }

    @Test func laterUsageReplacesEarlierCountsItKnows() {
        var a = StreamTokenAccount(dialect: .openai)
        a.record(LLMEventInfo(kind: .content, usage: TokenUsage(promptTokens: 5, completionTokens: 1)))
        a.record(LLMEventInfo(kind: .content, usage: TokenUsage(promptTokens: 5, completionTokens: 2)))
        a.record(LLMEventInfo(kind: .usage, usage: TokenUsage(completionTokens: 7)))
        #expect(a.usage == TokenUsage(promptTokens: 5, completionTokens: 7))
        #expect(a.contentEvents == 2)
    }
}

private extension String {
    /// The stream without its include_usage chunk.
    func replacingUsageChunk() -> String {
        split(separator: "\n\n", omittingEmptySubsequences: false)
            .filter { !$0.contains("\"prompt_tokens\"") }
            .joined(separator: "\n\n")
    }
}
