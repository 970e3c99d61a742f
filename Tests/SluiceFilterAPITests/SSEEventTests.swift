import Testing
@testable import SluiceFilterAPI

private func wire(_ event: SSEEvent) -> String {
    String(decoding: event.serialized, as: UTF8.self)
}

@Suite struct SSEEventTests {
    @Test func dataOnly() {
        #expect(wire(SSEEvent(data: "[DONE]")) == "data: [DONE]\n\n")
    }

    @Test func allFieldsInOrder() {
        let e = SSEEvent(event: "message_stop", data: #"{"type":"message_stop"}"#, id: "5", retry: 2000)
        #expect(wire(e) == "event: message_stop\nid: 5\nretry: 2000\ndata: {\"type\":\"message_stop\"}\n\n")
    }

    @Test func multiLineDataBecomesSeveralDataLines() {
        #expect(wire(SSEEvent(data: "a\nb\n\nc")) == "data: a\ndata: b\ndata: \ndata: c\n\n")
        #expect(wire(SSEEvent(data: "a\n")) == "data: a\ndata: \n\n")
    }

    @Test func everyLineBreakStyleInDataIsSplit() {
        #expect(wire(SSEEvent(data: "a\r\nb\rc\nd")) == "data: a\ndata: b\ndata: c\ndata: d\n\n")
    }

    @Test func emptyData() {
        #expect(wire(SSEEvent(data: "")) == "data: \n\n")
    }

    @Test func lineBreaksCannotEscapeEventOrID() {
        let e = SSEEvent(event: "x\ndata: injected", data: "ok", id: "1\r\n2")
        #expect(wire(e) == "event: xdata: injected\nid: 12\ndata: ok\n\n")
    }

    @Test func negativeRetryIsNotWritten() {
        #expect(wire(SSEEvent(data: "a", retry: -1)) == "data: a\n\n")
    }

    @Test func writeAppends() {
        var buffer = Array("prefix".utf8)
        SSEEvent(data: "x").write(into: &buffer)
        #expect(String(decoding: buffer, as: UTF8.self) == "prefixdata: x\n\n")
    }
}
