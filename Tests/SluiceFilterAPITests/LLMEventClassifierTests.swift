import Testing
@testable import SluiceFilterAPI

private func openai(_ data: String) -> LLMEventInfo {
    LLMEventClassifier.classify(SSEEvent(data: data), dialect: .openai)
}

private func anthropic(_ data: String, event: String? = nil) -> LLMEventInfo {
    LLMEventClassifier.classify(SSEEvent(event: event, data: data), dialect: .anthropic)
}

/// Shapes as OpenAI's API sends them (whitespace-free, `usage: null` on every chunk when
/// `stream_options.include_usage` is on).
private enum OpenAIFixtures {
    static let roleChunk = #"{"id":"chatcmpl-AbC","object":"chat.completion.chunk","created":1727000000,"model":"gpt-4o-mini-2024-07-18","system_fingerprint":"fp_f85bea6784","choices":[{"index":0,"delta":{"role":"assistant","content":"","refusal":null},"logprobs":null,"finish_reason":null}],"usage":null}"#
    static let contentChunk = #"{"id":"chatcmpl-AbC","object":"chat.completion.chunk","created":1727000000,"model":"gpt-4o-mini-2024-07-18","system_fingerprint":"fp_f85bea6784","choices":[{"index":0,"delta":{"content":"Hello"},"logprobs":null,"finish_reason":null}],"usage":null}"#
    static let toolCallChunk = #"{"id":"chatcmpl-AbC","object":"chat.completion.chunk","created":1727000000,"model":"gpt-4o-mini-2024-07-18","choices":[{"index":0,"delta":{"role":"assistant","content":null,"tool_calls":[{"index":0,"id":"call_DdmO9pD3xa9XTPNJ32zg2hcA","type":"function","function":{"name":"get_weather","arguments":""}}],"refusal":null},"logprobs":null,"finish_reason":null}],"usage":null}"#
    static let toolArgumentsChunk = #"{"id":"chatcmpl-AbC","object":"chat.completion.chunk","created":1727000000,"model":"gpt-4o-mini-2024-07-18","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"location\":"}}]},"logprobs":null,"finish_reason":null}],"usage":null}"#
    static let finishChunk = #"{"id":"chatcmpl-AbC","object":"chat.completion.chunk","created":1727000000,"model":"gpt-4o-mini-2024-07-18","system_fingerprint":"fp_f85bea6784","choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}],"usage":null}"#
    static let usageChunk = #"{"id":"chatcmpl-AbC","object":"chat.completion.chunk","created":1727000000,"model":"gpt-4o-mini-2024-07-18","system_fingerprint":"fp_f85bea6784","choices":[],"usage":{"prompt_tokens":9,"completion_tokens":12,"total_tokens":21,"prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}}}"#
    static let completionsChunk = #"{"id":"cmpl-7","object":"text_completion","created":1727000000,"choices":[{"text":" world","index":0,"logprobs":null,"finish_reason":null}],"model":"gpt-3.5-turbo-instruct"}"#
    static let completionsFinish = #"{"id":"cmpl-7","object":"text_completion","created":1727000000,"choices":[{"text":"","index":0,"logprobs":null,"finish_reason":"length"}],"model":"gpt-3.5-turbo-instruct"}"#
    static let error = #"{"error":{"message":"The server had an error while processing your request.","type":"server_error","param":null,"code":null}}"#
    static let all = [roleChunk, contentChunk, toolCallChunk, toolArgumentsChunk, finishChunk, usageChunk, completionsChunk, completionsFinish, error]
}

/// One Anthropic Messages stream, event names and data as the API sends them.
private enum AnthropicFixtures {
    static let stream: [(String, String)] = [
        ("message_start", #"{"type":"message_start","message":{"id":"msg_01XFDUDYJgAACzvnptvVoYEL","type":"message","role":"assistant","model":"claude-sonnet-4-5","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":25,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":1}}}"#),
        ("content_block_start", #"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#),
        ("ping", #"{"type": "ping"}"#),
        ("content_block_delta", #"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hello"}}"#),
        ("content_block_delta", #"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"!"}}"#),
        ("content_block_stop", #"{"type":"content_block_stop","index":0}"#),
        ("message_delta", #"{"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":15}}"#),
        ("message_stop", #"{"type":"message_stop"}"#),
    ]
    static let error = ("error", #"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#)
}

@Suite struct LLMEventClassifierOpenAITests {
    @Test func roleOnlyFirstChunkIsPreamble() {
        let info = openai(OpenAIFixtures.roleChunk)
        #expect(info == LLMEventInfo(kind: .preamble))
        #expect(!info.isFirstTokenCandidate)
    }

    @Test func contentChunk() {
        let info = openai(OpenAIFixtures.contentChunk)
        #expect(info == LLMEventInfo(kind: .content))
        #expect(info.isFirstTokenCandidate)
    }

    @Test func toolCallChunksAreContent() {
        #expect(openai(OpenAIFixtures.toolCallChunk).kind == .content)
        #expect(openai(OpenAIFixtures.toolArgumentsChunk).kind == .content)
        #expect(openai(#"{"choices":[{"index":0,"delta":{"function_call":{"name":"f","arguments":""}}}]}"#).kind == .content)
    }

    @Test func emptyToolCallsArrayIsNotContent() {
        #expect(openai(#"{"choices":[{"index":0,"delta":{"role":"assistant","content":"","tool_calls":[]}}]}"#).kind == .preamble)
    }

    @Test func finishChunkWithEmptyDelta() {
        #expect(openai(OpenAIFixtures.finishChunk) == LLMEventInfo(kind: .preamble, finishReason: "stop"))
    }

    @Test func includeUsageFinalChunk() {
        let info = openai(OpenAIFixtures.usageChunk)
        #expect(info == LLMEventInfo(kind: .usage, usage: TokenUsage(promptTokens: 9, completionTokens: 12)))
        #expect(info.usage?.totalTokens == 21)
    }

    @Test func finishChunkCarryingUsageIsUsage() {
        // llama.cpp and Ollama put usage on the finish chunk instead of a separate one.
        let info = openai(#"{"choices":[{"finish_reason":"length","index":0,"delta":{}}],"created":1,"id":"x","model":"m","object":"chat.completion.chunk","usage":{"completion_tokens":16,"prompt_tokens":4,"total_tokens":20},"timings":{"prompt_n":4}}"#)
        #expect(info == LLMEventInfo(kind: .usage, usage: TokenUsage(promptTokens: 4, completionTokens: 16), finishReason: "length"))
    }

    @Test func contentChunkWithContinuousUsageIsContent() {
        // vLLM's continuous_usage_stats puts running usage on every chunk.
        let info = openai(#"{"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":" a"},"logprobs":null,"finish_reason":null}],"usage":{"prompt_tokens":5,"total_tokens":8,"completion_tokens":3}}"#)
        #expect(info == LLMEventInfo(kind: .content, usage: TokenUsage(promptTokens: 5, completionTokens: 3)))
    }

    @Test func done() {
        #expect(openai("[DONE]") == LLMEventInfo(kind: .done))
        #expect(openai(" [DONE]\n") == LLMEventInfo(kind: .done))
        #expect(openai("[DONE]x").kind == .other)
        #expect(openai("[done]").kind == .other)
    }

    @Test func reasoningDeltas() {
        #expect(openai(#"{"choices":[{"index":0,"delta":{"reasoning_content":"Let me think"}}]}"#).kind == .content)
        #expect(openai(#"{"choices":[{"index":0,"delta":{"role":"assistant","content":"","reasoning":"Hmm"}}]}"#).kind == .content)
        #expect(openai(#"{"choices":[{"index":0,"delta":{"reasoning_content":""}}]}"#).kind == .preamble)
        #expect(openai(#"{"choices":[{"index":0,"delta":{"refusal":"I can't"}}]}"#).kind == .content)
    }

    @Test func completionsText() {
        #expect(openai(OpenAIFixtures.completionsChunk) == LLMEventInfo(kind: .content))
        #expect(openai(OpenAIFixtures.completionsFinish) == LLMEventInfo(kind: .preamble, finishReason: "length"))
    }

    @Test func errorObject() {
        #expect(openai(OpenAIFixtures.error) == LLMEventInfo(kind: .error, errorMessage: "The server had an error while processing your request.", errorType: "server_error"))
        #expect(openai(#"{"error":"plain text"}"#) == LLMEventInfo(kind: .error, errorMessage: "plain text"))
        #expect(openai(#"{"error":{"type":"server_error"}}"#) == LLMEventInfo(kind: .error, errorMessage: "server_error", errorType: "server_error"))
        #expect(openai(#"{"error":null,"choices":[{"delta":{"content":"x"}}]}"#).kind == .content)
    }

    @Test func vllmStyleTopLevelError() {
        let info = openai(#"{"object":"error","message":"This model's maximum context length is 4096 tokens.","type":"BadRequestError","param":null,"code":400}"#)
        #expect(info == LLMEventInfo(kind: .error, errorMessage: "This model's maximum context length is 4096 tokens.", errorType: "BadRequestError"))
    }

    @Test func azurePromptFilterChunkIsPreamble() {
        let info = openai(#"{"choices":[],"created":0,"id":"","model":"","object":"","prompt_filter_results":[{"prompt_index":0,"content_filter_results":{"hate":{"filtered":false,"severity":"safe"}}}]}"#)
        #expect(info == LLMEventInfo(kind: .preamble))
    }

    @Test func firstNonNullFinishReason() {
        let info = openai(#"{"choices":[{"index":0,"delta":{},"finish_reason":null},{"index":1,"delta":{},"finish_reason":"tool_calls"},{"index":2,"finish_reason":"stop"}]}"#)
        #expect(info.finishReason == "tool_calls")
    }

    @Test func unicodeAndEscapesInContent() {
        let info = openai(#"{"choices":[{"index":0,"delta":{"content":"caf\u00e9 \ud83d\ude00 \"quoted\" \\ \n 日本"}}]}"#)
        #expect(info.kind == .content)
        #expect(openai(#"{"choices":[{"index":0,"delta":{"content":"\n"}}]}"#).kind == .content)
    }

    @Test func keysInsideStringsDoNotCount() {
        let info = openai(#"{"model":"\"usage\":{\"prompt_tokens\":5},\"error\":{\"message\":\"x\"}","choices":[{"index":0,"delta":{"role":"assistant","content":"","note":"\"content\":\"hi\""}}]}"#)
        #expect(info == LLMEventInfo(kind: .preamble))
    }

    @Test func keysAtTheWrongLevelDoNotCount() {
        // content inside a nested object of the delta, in logprobs, and beside the delta;
        // usage and error inside other objects; finish_reason inside the delta.
        let info = openai(#"{"meta":{"error":{"message":"nested"},"usage":{"prompt_tokens":99}},"choices":[{"index":0,"delta":{"role":"assistant","content":"","extra":{"content":"hidden","tool_calls":[1]},"finish_reason":"fake"},"logprobs":{"content":[{"token":"x","text":"y"}]},"content":"beside","finish_reason":null}]}"#)
        #expect(info == LLMEventInfo(kind: .preamble))
        let usageNested = openai(#"{"choices":[],"usage":{"details":{"prompt_tokens":99,"completion_tokens":98},"prompt_tokens":3,"completion_tokens":4}}"#)
        #expect(usageNested.usage == TokenUsage(promptTokens: 3, completionTokens: 4))
        let deltaInArray = openai(#"{"choices":[[{"delta":{"content":"x"}}]]}"#)
        #expect(deltaInArray.kind == .preamble)
    }

    @Test func escapedKeysAreDecoded() {
        #expect(openai(#"{"\u0063hoices":[{"delta":{"con\u0074ent":"x"}}]}"#).kind == .content)
    }

    @Test func usageNullIsNoUsage() {
        #expect(openai(OpenAIFixtures.contentChunk).usage == nil)
        #expect(openai(#"{"usage":null}"#) == LLMEventInfo(kind: .other))
    }

    @Test func malformedIsOther() {
        for data in [
            "", " ", "not json", "{", "}", "[]", "[1,2]", "null", "\"str\"", "42", "{\"a\" 1}", "{\"a\":1,}",
            #"{"choices":[{"delta":{"content":"hi"}}]"#, #"{"choices":[{"delta":{"content":"hi"}}]}x"#,
            #"{"choices":[{"delta":{"content":"hi}}]}"#, #"{"choices":[{"delta":{"content":"\q"}}]}"#,
            #"{"usage":{"prompt_tokens":1.}}"#, "{\"a\":\u{0}}",
        ] {
            #expect(openai(data) == LLMEventInfo(kind: .other), "\(data)")
        }
    }

    @Test func otherJSONIsOther() {
        #expect(openai(#"{"object":"chat.completion.chunk","id":"x"}"#) == LLMEventInfo(kind: .other))
        #expect(openai(#"{"type":"BadRequestError"}"#) == LLMEventInfo(kind: .other))
    }

    @Test func everyTruncationOfRealChunksIsOtherAndNeverCrashes() {
        for fixture in OpenAIFixtures.all {
            let scalars = Array(fixture.unicodeScalars)
            for n in 0..<scalars.count {
                var prefix = String.UnicodeScalarView()
                prefix.append(contentsOf: scalars[0..<n])
                #expect(openai(String(prefix)).kind == .other)
                _ = anthropic(String(prefix))
            }
        }
    }

    @Test func mutatedChunksNeverCrash() {
        // Deterministic mutations: overwrite, insert or delete bytes with JSON-significant ones.
        let specials: [UInt8] = Array(#"{}[]",:\u0"#.utf8) + [0x00, 0x0A, 0x0D, 0x80, 0xFF, 0xC3]
        var state: UInt64 = 0x5EED
        func next() -> Int {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Int(truncatingIfNeeded: state >> 33)
        }
        let fixtures = OpenAIFixtures.all + AnthropicFixtures.stream.map(\.1) + [AnthropicFixtures.error.1]
        for round in 0..<3000 {
            var bytes = Array(fixtures[round % fixtures.count].utf8)
            for _ in 0..<(1 + next() % 4) {
                let at = next() % bytes.count
                let byte = specials[next() % specials.count]
                switch next() % 3 {
                case 0: bytes[at] = byte
                case 1: bytes.insert(byte, at: at)
                default: bytes.remove(at: at)
                }
            }
            let data = String(decoding: bytes, as: UTF8.self)
            _ = openai(data)
            _ = anthropic(data)
            _ = anthropic(data, event: "content_block_delta")
        }
    }

    @Test func hostileNumbersDoNotTrap() {
        let info = openai(#"{"choices":[],"usage":{"prompt_tokens":9223372036854775807,"completion_tokens":9223372036854775807}}"#)
        #expect(info.usage?.promptTokens == Int.max)
        #expect(info.usage?.totalTokens == nil)
        #expect(openai(#"{"choices":[],"usage":{"prompt_tokens":99999999999999999999999,"completion_tokens":-1e999}}"#).usage == TokenUsage())
    }

    @Test func deepNestingDoesNotCrash() {
        let deep = "{\"x\":" + String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000) + ",\"choices\":[{\"delta\":{\"content\":\"a\"}}]}"
        #expect(openai(deep).kind == .content)
        #expect(openai(String(repeating: "[", count: 100_000)).kind == .other)
    }
}

@Suite struct LLMEventClassifierResponsesAPITests {
    @Test func responsesStream() {
        #expect(openai(#"{"type":"response.created","sequence_number":0,"response":{"id":"resp_1","object":"response","status":"in_progress","output":[],"usage":null}}"#) == LLMEventInfo(kind: .preamble))
        #expect(openai(#"{"type":"response.output_item.added","output_index":0,"item":{"id":"msg_1","type":"message","status":"in_progress","content":[],"role":"assistant"}}"#).kind == .preamble)
        #expect(openai(#"{"type":"response.output_text.delta","item_id":"msg_1","output_index":0,"content_index":0,"delta":"Hi"}"#) == LLMEventInfo(kind: .content))
        #expect(openai(#"{"type":"response.function_call_arguments.delta","item_id":"fc_1","output_index":0,"delta":"{\"a\""}"#).kind == .content)
        #expect(openai(#"{"type":"response.output_text.delta","delta":""}"#).kind == .preamble)
        #expect(openai(#"{"type":"response.output_text.done","text":"Hi"}"#).kind == .other)
        let completed = openai(#"{"type":"response.completed","response":{"id":"resp_1","status":"completed","output":[{"type":"message","content":[{"type":"output_text","text":"Hi"}]}],"usage":{"input_tokens":36,"input_tokens_details":{"cached_tokens":0},"output_tokens":87,"output_tokens_details":{"reasoning_tokens":0},"total_tokens":123}}}"#)
        #expect(completed == LLMEventInfo(kind: .done, usage: TokenUsage(promptTokens: 36, completionTokens: 87), finishReason: "completed"))
    }

    @Test func incompleteAndFailed() {
        let incomplete = openai(#"{"type":"response.incomplete","response":{"status":"incomplete","incomplete_details":{"reason":"max_output_tokens"},"usage":{"input_tokens":1,"output_tokens":2}}}"#)
        #expect(incomplete == LLMEventInfo(kind: .done, usage: TokenUsage(promptTokens: 1, completionTokens: 2), finishReason: "max_output_tokens"))
        let failed = openai(#"{"type":"response.failed","response":{"status":"failed","error":{"code":"server_error","message":"boom"},"usage":null}}"#)
        #expect(failed == LLMEventInfo(kind: .error, errorMessage: "boom", errorType: "server_error"))
        let error = openai(#"{"type":"error","code":"ERR_SOMETHING","message":"Something went wrong","param":null,"sequence_number":1}"#)
        #expect(error == LLMEventInfo(kind: .error, errorMessage: "Something went wrong", errorType: "ERR_SOMETHING"))
    }
}

@Suite struct LLMEventClassifierAnthropicTests {
    @Test func fullStream() {
        let infos = AnthropicFixtures.stream.map { anthropic($0.1, event: $0.0) }
        #expect(infos == [
            LLMEventInfo(kind: .preamble, usage: TokenUsage(promptTokens: 25)),
            LLMEventInfo(kind: .preamble),
            LLMEventInfo(kind: .ping),
            LLMEventInfo(kind: .content),
            LLMEventInfo(kind: .content),
            LLMEventInfo(kind: .preamble),
            LLMEventInfo(kind: .usage, usage: TokenUsage(completionTokens: 15), finishReason: "end_turn"),
            LLMEventInfo(kind: .done),
        ])
    }

    @Test func dataTypeDecidesWhenThereIsNoEventName() {
        let named = AnthropicFixtures.stream.map { anthropic($0.1, event: $0.0) }
        let unnamed = AnthropicFixtures.stream.map { anthropic($0.1) }
        let defaultNamed = AnthropicFixtures.stream.map { anthropic($0.1, event: "message") }
        #expect(unnamed == named)
        #expect(defaultNamed == named)
    }

    @Test func errorEvent() {
        #expect(anthropic(AnthropicFixtures.error.1, event: "error") == LLMEventInfo(kind: .error, errorMessage: "Overloaded", errorType: "overloaded_error"))
        #expect(anthropic(AnthropicFixtures.error.1) == LLMEventInfo(kind: .error, errorMessage: "Overloaded", errorType: "overloaded_error"))
        #expect(anthropic(#"{"type":"error","error":{"type":"api_error"}}"#, event: "error") == LLMEventInfo(kind: .error, errorMessage: "api_error", errorType: "api_error"))
    }

    @Test func namedEventsKeepTheirMeaningWithBrokenData() {
        #expect(anthropic("not json", event: "ping") == LLMEventInfo(kind: .ping))
        #expect(anthropic("", event: "ping") == LLMEventInfo(kind: .ping))
        #expect(anthropic("Internal Server Error", event: "error") == LLMEventInfo(kind: .error))
        #expect(anthropic("{", event: "message_stop") == LLMEventInfo(kind: .done))
        #expect(anthropic("{", event: "content_block_delta") == LLMEventInfo(kind: .other))
        #expect(anthropic("{", event: "message_delta") == LLMEventInfo(kind: .other))
    }

    @Test func cacheTokensCountAsPrompt() {
        let info = anthropic(#"{"type":"message_start","message":{"id":"m","type":"message","role":"assistant","content":[],"model":"claude","usage":{"input_tokens":3,"cache_creation_input_tokens":100,"cache_read_input_tokens":2000,"output_tokens":1,"service_tier":"standard"}}}"#, event: "message_start")
        #expect(info.usage == TokenUsage(promptTokens: 2103))
    }

    @Test func messageDeltaWithFullUsage() {
        let info = anthropic(#"{"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"input_tokens":10,"cache_creation_input_tokens":0,"cache_read_input_tokens":5,"output_tokens":89}}"#, event: "message_delta")
        #expect(info == LLMEventInfo(kind: .usage, usage: TokenUsage(promptTokens: 15, completionTokens: 89), finishReason: "tool_use"))
    }

    @Test func toolUseAndThinkingDeltas() {
        #expect(anthropic(#"{"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"toolu_01","name":"get_weather","input":{}}}"#, event: "content_block_start").kind == .preamble)
        #expect(anthropic(#"{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":""}}"#, event: "content_block_delta").kind == .preamble)
        #expect(anthropic(#"{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\"location\": \"San Fra"}}"#, event: "content_block_delta").kind == .content)
        #expect(anthropic(#"{"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"Let me solve this"}}"#, event: "content_block_delta").kind == .content)
        #expect(anthropic(#"{"type":"content_block_delta","index":0,"delta":{"type":"signature_delta","signature":"EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds"}}"#, event: "content_block_delta").kind == .preamble)
        #expect(anthropic(#"{"type":"content_block_delta","index":0,"delta":{"type":"citations_delta","citation":{"type":"char_location","cited_text":"x"}}}"#, event: "content_block_delta").kind == .content)
    }

    @Test func keysAtTheWrongLevelDoNotCount() {
        // The text sits in a nested object of the delta, not in the delta.
        #expect(anthropic(#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"","extra":{"text":"hidden"}}}"#, event: "content_block_delta").kind == .preamble)
        // Usage nested elsewhere in the message, and a type inside the message, are ignored.
        let start = anthropic(#"{"type":"message_start","message":{"type":"message_stop","metadata":{"usage":{"input_tokens":999}},"content":[{"type":"text","text":"\"usage\":{\"input_tokens\":777}"}],"usage":{"input_tokens":7,"output_tokens":1}}}"#)
        #expect(start == LLMEventInfo(kind: .preamble, usage: TokenUsage(promptTokens: 7)))
        // A stop_reason in the message object is not the message_delta's.
        let delta = anthropic(#"{"type":"message_delta","message":{"stop_reason":"fake"},"delta":{"stop_reason":"max_tokens"},"usage":{"output_tokens":4}}"#)
        #expect(delta.finishReason == "max_tokens")
    }

    @Test func unknownEventsAreOther() {
        #expect(anthropic(#"{"type":"brand_new_event"}"#, event: "brand_new_event") == LLMEventInfo(kind: .other))
        #expect(anthropic(#"{"foo":1}"#) == LLMEventInfo(kind: .other))
        #expect(anthropic("[1]") == LLMEventInfo(kind: .other))
    }

    @Test func eventNameWinsOverDataType() {
        #expect(anthropic(#"{"type":"message_stop"}"#, event: "content_block_stop").kind == .preamble)
    }

    @Test func everyTruncationIsHandled() {
        for (name, data) in AnthropicFixtures.stream + [AnthropicFixtures.error] {
            let bytes = Array(data.utf8)
            for n in 0..<bytes.count {
                let prefix = String(decoding: bytes[0..<n], as: UTF8.self)
                let info = anthropic(prefix, event: name)
                switch name {
                case "ping": #expect(info.kind == .ping)
                case "message_stop": #expect(info.kind == .done)
                case "content_block_stop": #expect(info.kind == .preamble)
                case "error": #expect(info.kind == .error)
                default: #expect(info.kind == .other, "\(name) \(prefix)")
                }
                #expect(anthropic(prefix).kind == .other)
            }
        }
    }
}

@Suite("LLMEventClassifier: usage of non-streamed bodies")
struct ResponseBodyUsageTests {
    private func usage(_ json: String, _ dialect: StreamDialect) -> TokenUsage? {
        LLMEventClassifier.usage(ofResponseBody: Array(json.utf8), dialect: dialect)
    }

    @Test func openAIChatCompletion() {
        let body = #"{"id":"c","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":12,"completion_tokens":34,"total_tokens":46}}"#
        #expect(usage(body, .openai) == TokenUsage(promptTokens: 12, completionTokens: 34))
    }

    @Test func openAIResponsesAPI() {
        let body = #"{"id":"r","object":"response","status":"completed","output":[],"usage":{"input_tokens":7,"output_tokens":8}}"#
        #expect(usage(body, .openai) == TokenUsage(promptTokens: 7, completionTokens: 8))
    }

    @Test func anthropicMessageCountsCacheTokensAsPrompt() {
        let body = #"{"id":"m","type":"message","role":"assistant","content":[{"type":"text","text":"hi"}],"usage":{"input_tokens":5,"cache_read_input_tokens":100,"output_tokens":9}}"#
        #expect(usage(body, .anthropic) == TokenUsage(promptTokens: 105, completionTokens: 9))
    }

    @Test func aResponseObjectsUsageAndTheLastUsageInTheTextCount() {
        let nested = #"{"type":"response.completed","response":{"status":"completed","usage":{"input_tokens":3,"output_tokens":4}}}"#
        #expect(usage(nested, .openai) == TokenUsage(promptTokens: 3, completionTokens: 4))
        let twice = #"{"usage":{"prompt_tokens":1,"completion_tokens":2},"choices":[],"usage":{"prompt_tokens":5,"completion_tokens":6}}"#
        #expect(usage(twice, .openai) == TokenUsage(promptTokens: 5, completionTokens: 6))
    }

    /// The usage walk skips `choices` as the classifier skips what it does not read: a body broken
    /// only inside it still gives the usage the upstream reported; one broken at the top level does not.
    @Test func aBodyBrokenOnlyInsideChoicesStillGivesItsUsage() {
        let broken = #"{"choices":[{"index":0,"messag"e:{"content":"hi"}}],"usage":{"prompt_tokens":12,"completion_tokens":34}}"#
        #expect(usage(broken, .openai) == TokenUsage(promptTokens: 12, completionTokens: 34))
        #expect(usage(#"{"choices":[] "usage":{"prompt_tokens":1}}"#, .openai) == nil)
        #expect(usage(#"{"usage":{"prompt_tokens":1}} trailing"#, .openai) == nil)
    }

    @Test func bodiesWithoutUsageOrNotJSONHaveNone() {
        #expect(usage(#"{"object":"list","data":[]}"#, .openai) == nil)
        #expect(usage("<html>502</html>", .openai) == nil)
        #expect(usage("", .anthropic) == nil)
        #expect(usage(#"{"usage":"#, .openai) == nil)
    }
}
