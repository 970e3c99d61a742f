import Testing
@testable import SluiceFilterAPI

/// A stream's events through one `LLMEventShape`: answered from the kept shape when only skipped
/// or content strings changed, read in full otherwise, and always what a fresh read answers.
@Suite struct LLMEventShapeTests {
    private static func chunk(_ delta: String, finish: String = "null", id: String = "chatcmpl-1") -> String {
        #"{"id":"\#(id)","object":"chat.completion.chunk","created":1700000000,"model":"m","choices":[{"index":0,"delta":\#(delta),"logprobs":null,"finish_reason":\#(finish)}]}"#
    }

    /// Classifies `events` in order through one shape; answers each event's classification and
    /// whether the shape answered it without a full read.
    private static func stream(_ events: [String]) -> [(info: LLMEventInfo, matched: Bool)] {
        var shape = LLMEventShape()
        return events.map { event in
            var bytes = Array(event.utf8)
            return bytes.withUnsafeMutableBufferPointer { mutable in
                let data = UnsafeBufferPointer(mutable)
                let matched = shape.kind(of: data) != nil
                let info = LLMEventClassifier.classify(data: data, name: nil, dialect: .openai, shape: &shape)
                #expect(info == LLMEventClassifier.classify(data: data, name: nil, dialect: .openai), "\(event)")
                return (info, matched)
            }
        }
    }

    @Test func contentChunksAfterTheFirstAreAnsweredFromTheShape() {
        let answers = Self.stream([
            Self.chunk(#"{"role":"assistant"}"#),
            Self.chunk(#"{"content":" alpha"}"#),
            Self.chunk(#"{"content":" bravo, longer"}"#),
            Self.chunk(#"{"content":"line\nwith \"escapes\" \u00e9"}"#),
            Self.chunk(#"{"content":""}"#),
            Self.chunk(#"{"content":"x"}"#, id: "chatcmpl-another-id"),
            Self.chunk("{}", finish: #""stop""#),
        ])
        #expect(answers.map(\.info.kind) == [.preamble, .content, .content, .content, .preamble, .content, .preamble])
        #expect(answers.map(\.matched) == [false, false, true, true, true, true, false])
        #expect(answers.last?.info.finishReason == "stop")
    }

    @Test func aChangeOutsideTheStringsIsReadInFull() {
        let answers = Self.stream([
            Self.chunk(#"{"content":"a"}"#),
            // The finish reason is read, not skipped: another value is another answer.
            Self.chunk(#"{"content":"b"}"#, finish: #""length""#),
            Self.chunk(#"{"content":"c"}"#),
            // A key renamed, a number changed, a string that breaks the JSON.
            Self.chunk(#"{"refusal":"d"}"#),
            Self.chunk(#"{"contenu":"e"}"#),
            Self.chunk(#"{"contenu":"e\"}"#),
            Self.chunk(#"{"contenu":"e\q"}"#),
        ])
        #expect(answers.map(\.info.kind) == [.content, .content, .content, .content, .preamble, .other, .other])
        #expect(answers.map(\.matched) == [false, false, false, false, false, false, false])
        #expect(answers[1].info.finishReason == "length")
    }

    @Test func contentOutsideStringsStaysContent() {
        let answers = Self.stream([
            Self.chunk(#"{"content":"","tool_calls":[{"index":0}]}"#),
            Self.chunk(#"{"content":"","tool_calls":[{"index":0}]}"#),
            Self.chunk(#"{"content":"more","tool_calls":[{"index":0}]}"#),
        ])
        #expect(answers.map(\.info.kind) == [.content, .content, .content])
        #expect(answers.map(\.matched) == [false, true, true])
    }

    @Test func errorsAndUsageAreNeverKept() {
        let error = #"{"error":{"message":"boom","type":"server_error"}}"#
        let usage = #"{"id":"x","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":5}}"#
        let answers = Self.stream([error, error, usage, usage])
        #expect(answers.map(\.info.kind) == [.error, .error, .usage, .usage])
        #expect(answers.map(\.matched) == [false, false, false, false])
        #expect(answers[3].info.usage == TokenUsage(promptTokens: 3, completionTokens: 5))
    }
}
