import CustomFilters
import Foundation
import SluiceTesting
import Testing

/// `stream_redaction` over real sockets, behind `api_key_auth`: a stream through both custom filters.
/// The fake upstream sends one word per event (`MockTokens`: " alpha", " bravo", …), so a phrase of
/// two words is always split across two events.
@Suite struct StreamRedactionTests {
    private func proxy(_ redaction: String) throws -> ProxyHarness {
        try ProxyHarness(chain: """
            - filter: api_key_auth
              config: { keys_file: \(try writeKeysFile()) }
            - filter: stream_redaction
              config: \(redaction)
            """, registry: exampleRegistry())
    }

    private let fullText = MockTokens.text(count: 10)

    @Test func aLiteralSplitAcrossTwoEventsIsRedactedAndTheEventsStayTheSame() throws {
        let proxy = try proxy("{ literals: [alpha bravo] }")
        defer { proxy.stop() }
        let response = try TestClient.post(port: proxy.port, path: "/v1/chat/completions", json: TestClient.chatRequest(),
                                           headers: bearer(TestKeys.alice))
        #expect(response.status == 200)
        #expect(response.ending == .complete)
        #expect(everyEventIsJSON(response))
        let texts = deltaTexts(response)
        // The role chunk, ten content chunks, the finish chunk, [DONE]: as the upstream sent them.
        #expect(texts.count == 13)
        #expect(texts[1] == " ", "'alpha' is held back: it may be the start of 'alpha bravo'")
        #expect(texts[2] == "[redacted]")
        #expect(texts.compactMap { $0 }.joined() == fullText.replacingOccurrences(of: "alpha bravo", with: "[redacted]"))
        #expect(response.sseEvents.last?.data == "[DONE]")
    }

    @Test func textHeldAtTheEndIsReleasedInOneEventBeforeTheFinishChunk() throws {
        // The last word, " juliet", could begin "juliet kilo": it is held, and released when the content ends.
        let proxy = try proxy("{ literals: [juliet kilo] }")
        defer { proxy.stop() }
        let response = try TestClient.post(port: proxy.port, path: "/v1/chat/completions", json: TestClient.chatRequest(),
                                           headers: bearer(TestKeys.alice))
        #expect(response.status == 200)
        #expect(everyEventIsJSON(response))
        let texts = deltaTexts(response)
        #expect(texts.count == 14)
        #expect(texts[10] == " ")
        #expect(texts[11] == "juliet", "the released text, in an event of its own")
        #expect(texts.compactMap { $0 }.joined() == fullText)
        let released = try #require(jsonObject(response.sseEvents[11].data))
        #expect(released["id"] as? String == "chatcmpl-mock")
        let finish = try #require(jsonObject(response.sseEvents[12].data))
        #expect((finish["choices"] as? [[String: Any]])?.first?["finish_reason"] as? String == "stop")
    }

    @Test func aPatternSplitAcrossEventsIsRedacted() throws {
        let proxy = try proxy(#"{ patterns: ['ch\w+ d\w+'], max_pattern_length: 20, replacement: "***" }"#)
        defer { proxy.stop() }
        let response = try TestClient.post(port: proxy.port, path: "/v1/chat/completions", json: TestClient.chatRequest(),
                                           headers: bearer(TestKeys.alice))
        #expect(response.status == 200)
        #expect(everyEventIsJSON(response))
        #expect(deltaTexts(response).compactMap { $0 }.joined() == " alpha bravo *** echo foxtrot golf hotel india juliet")
    }

    @Test func anAnthropicStreamIsRedactedAndTheHeldTextComesBeforeContentBlockStop() throws {
        let proxy = try proxy("{ literals: [charlie delta, juliet kilo] }")
        defer { proxy.stop() }
        let response = try TestClient.post(port: proxy.port, path: "/v1/messages", json: messagesRequest(),
                                           headers: [("x-api-key", TestKeys.bob)])
        #expect(response.status == 200)
        #expect(everyEventIsJSON(response))
        let names = response.sseEvents.map { $0.event ?? "" }
        #expect(names.suffix(5) == ["content_block_delta", "content_block_delta", "content_block_stop", "message_delta", "message_stop"])
        #expect(deltaTexts(response).compactMap { $0 }.joined() == fullText.replacingOccurrences(of: "charlie delta", with: "[redacted]"))
    }

    @Test func aConfigWithNothingToRedactOrABadPatternIsRejectedWithPositions() throws {
        let error = #expect(throws: (any Error).self) {
            try ProxyHarness(chain: """
                - filter: stream_redaction
                  config: { patterns: ['a(b', 'x*'] }
                - filter: stream_redaction
                  name: empty
                """, registry: exampleRegistry())
        }
        let text = error.map { "\($0)" } ?? ""
        #expect(text.contains("test.yaml:17:28: pattern 'a(b' is not a valid regular expression"), "\(text)")
        #expect(text.contains("test.yaml:17:35: pattern 'x*' matches empty text"), "\(text)")
        #expect(text.contains("test.yaml:18:7: give 'literals', 'patterns' or both"), "\(text)")
    }
}
