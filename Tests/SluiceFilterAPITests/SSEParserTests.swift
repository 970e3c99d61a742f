import Testing
@testable import SluiceFilterAPI

/// Feeds `bytes` cut at `cuts` (offsets, ascending) and answers every item reported.
private func parse(_ bytes: [UInt8], cuts: [Int] = [], maxEventBytes: Int = 1 << 20) throws(SSEParseError) -> [SSEItem] {
    var parser = SSEParser(maxEventBytes: maxEventBytes)
    var items: [SSEItem] = []
    var start = 0
    for cut in cuts + [bytes.count] {
        items += try parser.feed(Array(bytes[start..<cut]))
        start = cut
    }
    return items
}

private func parse(_ text: String, cuts: [Int] = []) throws(SSEParseError) -> [SSEItem] {
    try parse(Array(text.utf8), cuts: cuts)
}

private func event(_ data: String, event: String? = nil, id: String? = nil, retry: Int? = nil) -> SSEItem {
    .event(SSEEvent(event: event, data: data, id: id, retry: retry))
}

/// Asserts that every way of cutting `bytes` into two pieces, and cutting it into single bytes,
/// gives the same items as feeding it whole.
private func expectSplitInvariant(_ bytes: [UInt8], sourceLocation: SourceLocation = #_sourceLocation) throws {
    let whole = try parse(bytes)
    for cut in 0...bytes.count {
        #expect(try parse(bytes, cuts: [cut]) == whole, "cut at \(cut)", sourceLocation: sourceLocation)
    }
    #expect(try parse(bytes, cuts: Array(0..<bytes.count)) == whole, "byte by byte", sourceLocation: sourceLocation)
    var generator = SplitMix64(seed: UInt64(bytes.count))
    for _ in 0..<50 {
        let cuts = (0..<3).map { _ in Int(generator.next() % UInt64(bytes.count + 1)) }.sorted()
        #expect(try parse(bytes, cuts: cuts) == whole, "cuts \(cuts)", sourceLocation: sourceLocation)
    }
}

/// A small deterministic generator, so failures reproduce.
private struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

@Suite struct SSEParserTests {
    @Test(arguments: ["\n", "\r\n", "\r"])
    func everyLineEndingStyle(_ eol: String) throws {
        let text = "event: delta\(eol)data: one\(eol)data: two\(eol)\(eol): keep-alive\(eol)data: three\(eol)\(eol)"
        #expect(try parse(text) == [
            event("one\ntwo", event: "delta"),
            .comment("keep-alive"),
            event("three"),
        ])
        try expectSplitInvariant(Array(text.utf8))
    }

    @Test func mixedLineEndingsInOneStream() throws {
        let text = "data: a\r\ndata: b\rdata: c\n\r\ndata: d\r\r"
        #expect(try parse(text) == [event("a\nb\nc"), event("d")])
        try expectSplitInvariant(Array(text.utf8))
    }

    @Test func crAtEndOfFeedThenLFIsOneLineEnd() throws {
        var parser = SSEParser()
        #expect(try parser.feed(Array("data: a\r".utf8)) == [])
        // The LF completes the CRLF of the data line; it is not a blank line.
        #expect(try parser.feed(Array("\n".utf8)) == [])
        #expect(parser.hasPartialEvent)
        #expect(try parser.feed(Array("\r".utf8)) == [event("a")])
        #expect(try parser.feed(Array("\n".utf8)) == [])
        #expect(!parser.hasPartialEvent)
    }

    @Test func crDispatchesWithoutWaitingForTheNextFeed() throws {
        var parser = SSEParser()
        #expect(try parser.feed(Array("data: a\r\r".utf8)) == [event("a")])
    }

    @Test func realisticOpenAIStreamIsSplitInvariant() throws {
        let text = """
        data: {"id":"chatcmpl-1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}

        data: {"id":"chatcmpl-1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"Hé 😀"},"finish_reason":null}]}

        : OPENROUTER PROCESSING

        data: [DONE]


        """
        let items = try parse(text)
        #expect(items.count == 4)
        #expect(items[3] == event("[DONE]"))
        try expectSplitInvariant(Array(text.utf8))
    }

    @Test func lineEndsAreFoundAtEveryOffset() throws {
        // The line scanner looks at eight bytes at a time; put line ends at every position.
        for length in 0..<24 {
            let value = String(repeating: "v", count: length)
            for eol in ["\n", "\r", "\r\n"] {
                #expect(try parse("data: \(value)\(eol)\(eol)data:\(value)\(eol)\(eol)") == [event(value), event(value)])
            }
        }
    }

    @Test func multiLineData() throws {
        #expect(try parse("data: first\ndata:second\ndata:  third\ndata\ndata:\n\n") == [
            event("first\nsecond\n third\n\n"),
        ])
    }

    @Test func emptyDataFieldIsStillAnEvent() throws {
        #expect(try parse("data:\n\n") == [event("")])
        #expect(try parse("data\n\n") == [event("")])
    }

    @Test func comments() throws {
        #expect(try parse(": ping\n:\n:  two spaces\n:no space\n") == [
            .comment("ping"), .comment(""), .comment(" two spaces"), .comment("no space"),
        ])
    }

    @Test func commentsAreReportedAsTheyAreReadEvenInsideAnEvent() throws {
        var parser = SSEParser()
        #expect(try parser.feed(Array("data: a\n: note\n".utf8)) == [.comment("note")])
        #expect(try parser.feed(Array("\n".utf8)) == [event("a")])
    }

    @Test func blockWithoutDataIsNotDispatched() throws {
        var parser = SSEParser()
        let items = try parser.feed(Array("id: 7\n\nevent: x\n\nretry: 500\n\ndata: y\n\n".utf8))
        #expect(items == [event("y")])
        #expect(parser.lastEventID == "7")
        #expect(parser.reconnectionTime == 500)
    }

    @Test func eventIdAndRetryFields() throws {
        #expect(try parse("event: update\nid: 42\nretry: 3000\ndata: x\n\n") == [
            event("x", event: "update", id: "42", retry: 3000),
        ])
    }

    @Test func idIsPerEventButLastEventIDCarriesOver() throws {
        var parser = SSEParser()
        let items = try parser.feed(Array("id: 1\ndata: a\n\ndata: b\n\nid\ndata: c\n\n".utf8))
        #expect(items == [event("a", id: "1"), event("b"), event("c", id: "")])
        #expect(parser.lastEventID == "")
    }

    @Test func idWithNULIsIgnored() throws {
        var parser = SSEParser()
        #expect(try parser.feed(Array("id: a\u{0}b\ndata: x\n\n".utf8)) == [event("x")])
        #expect(parser.lastEventID == nil)
    }

    @Test func invalidRetryIsIgnored() throws {
        var parser = SSEParser()
        let items = try parser.feed(Array("retry: 10s\ndata: a\n\nretry:\ndata: b\n\nretry: -5\ndata: c\n\nretry: 99999999999999999999999\ndata: d\n\n".utf8))
        #expect(items == [event("a"), event("b"), event("c"), event("d")])
        #expect(parser.reconnectionTime == nil)
    }

    @Test func emptyEventNameMeansDefault() throws {
        #expect(try parse("event:\ndata: a\n\nevent: x\nevent:\ndata: b\n\n") == [event("a"), event("b")])
    }

    @Test func unknownFieldsAndSpacingRules() throws {
        #expect(try parse("foo: bar\nDATA: no\ndata:x\n data: not a field\nevent:  spaced\n\n") == [
            event("x", event: " spaced"),
        ])
    }

    @Test func leadingBOMIsIgnored() throws {
        let bytes: [UInt8] = [0xEF, 0xBB, 0xBF] + Array("data: a\n\n".utf8)
        #expect(try parse(bytes) == [event("a")])
        try expectSplitInvariant(bytes)
    }

    @Test func onlyTheFirstBOMIsSpecial() throws {
        let bom: [UInt8] = [0xEF, 0xBB, 0xBF]
        // A second BOM is part of the next line: it makes "\u{FEFF}data" an unknown field.
        let bytes = bom + Array("data: a\n\n".utf8) + bom + Array("data: b\n\ndata: c\n\n".utf8)
        #expect(try parse(bytes) == [event("a"), event("c")])
        try expectSplitInvariant(bytes)
    }

    @Test func partialBOMThatIsNotABOMIsKeptAsData() throws {
        // EF BB followed by ':' is not a BOM; the bytes stay in the line (and decode as U+FFFD).
        let bytes: [UInt8] = [0xEF, 0xBB] + Array(": x\ndata: a\n\n".utf8)
        let items = try parse(bytes)
        #expect(items == [event("a")])
        try expectSplitInvariant(bytes)
        let asData: [UInt8] = Array("data: ".utf8) + [0xEF, 0xBB, 0x41, 0x0A, 0x0A]
        #expect(try parse(asData) == [event("\u{FFFD}A")])
    }

    @Test func invalidUTF8IsReplaced() throws {
        let bytes: [UInt8] = Array("data: a".utf8) + [0xFF, 0xC3] + Array("b\n\n".utf8)
        #expect(try parse(bytes) == [event("a\u{FFFD}\u{FFFD}b")])
    }

    @Test func multiByteCharactersSplitAcrossFeeds() throws {
        let bytes = Array("data: 日本語 😀 café\n\n".utf8)
        #expect(try parse(bytes) == [event("日本語 😀 café")])
        try expectSplitInvariant(bytes)
    }

    @Test func maxEventSizeThrows() throws {
        let big = String(repeating: "x", count: 100)
        #expect(throws: SSEParseError.self) {
            _ = try parse(Array("data: \(big)\n\n".utf8), maxEventBytes: 64)
        }
        // The limit counts the whole event, not one line.
        let lines = String(repeating: "data: 0123456789\n", count: 10) + "\n"
        #expect(throws: SSEParseError.self) {
            _ = try parse(Array(lines.utf8), maxEventBytes: 100)
        }
        #expect(try parse(Array(lines.utf8), maxEventBytes: 160).count == 1)
    }

    @Test func maxEventSizeThrowsWhileTheEventIsStillArriving() throws {
        var parser = SSEParser(maxEventBytes: 64)
        #expect(try parser.feed(Array("data: ok\n\n".utf8)) == [event("ok")])
        #expect(throws: SSEParseError.self) {
            for _ in 0..<100 { _ = try parser.feed(Array("xxxxxxxx".utf8)) }
        }
        // The parser stays failed.
        #expect(throws: SSEParseError.self) { _ = try parser.feed(Array("\n\ndata: a\n\n".utf8)) }
        parser.reset()
        #expect(try parser.feed(Array("data: a\n\n".utf8)) == [event("a")])
    }

    @Test func itemsBeforeTheOversizedEventAreReported() throws {
        var parser = SSEParser(maxEventBytes: 32)
        var items: [SSEItem] = []
        let bytes = Array("data: small\n\n: hi\ndata: \(String(repeating: "y", count: 64))\n\n".utf8)
        #expect(throws: SSEParseError.self) {
            try bytes.withUnsafeBytes { raw in try parser.feed(raw) { items.append($0) } }
        }
        #expect(items == [event("small"), .comment("hi")])
    }

    @Test func commentsDoNotAddUpTowardTheLimit() throws {
        let keepAlives = String(repeating: ": keep-alive\n", count: 100)
        let text = keepAlives + "data: x\n\n"
        #expect(try parse(Array(text.utf8), maxEventBytes: 32).last == event("x"))
        #expect(throws: SSEParseError.self) {
            _ = try parse(Array(": \(String(repeating: "z", count: 40))\n".utf8), maxEventBytes: 32)
        }
    }

    @Test func limitIsTheSameWhicheverWayTheBytesAreSplit() throws {
        let exact = Array("data: 0123456789\n\n".utf8) // a 16-byte field line
        for cut in 0...exact.count {
            #expect(try parse(exact, cuts: [cut], maxEventBytes: 16) == [event("0123456789")])
            #expect(throws: SSEParseError.self) { _ = try parse(exact, cuts: [cut], maxEventBytes: 15) }
        }
    }

    @Test func hasPartialEvent() throws {
        var parser = SSEParser()
        #expect(!parser.hasPartialEvent)
        _ = try parser.feed(Array("da".utf8))
        #expect(parser.hasPartialEvent)
        _ = try parser.feed(Array("ta: x\n".utf8))
        #expect(parser.hasPartialEvent)
        #expect(try parser.feed(Array("\n".utf8)) == [event("x")])
        #expect(!parser.hasPartialEvent)
        _ = try parser.feed(Array(": ping\n".utf8))
        #expect(!parser.hasPartialEvent)
        _ = try parser.feed(Array("id: 3\n".utf8))
        #expect(parser.hasPartialEvent)
        _ = try parser.feed(Array("\n".utf8))
        #expect(!parser.hasPartialEvent)
        _ = try parser.feed([0xEF])
        #expect(parser.hasPartialEvent)
    }

    @Test func emptyFeedsChangeNothing() throws {
        var parser = SSEParser()
        #expect(try parser.feed([]) == [])
        #expect(try parser.feed(Array("data: a\r".utf8)) == [])
        #expect(try parser.feed([]) == [])
        #expect(try parser.feed(Array("\n\n".utf8)) == [event("a")])
    }

    @Test func roundTripsThroughWrite() throws {
        let events = [
            SSEEvent(data: "plain"),
            SSEEvent(event: "content_block_delta", data: #"{"a":1}"#),
            SSEEvent(event: "x", data: "line1\nline2\n\nline4", id: "id-9", retry: 1500),
            SSEEvent(data: ""),
            SSEEvent(data: " leading space"),
        ]
        var wire: [UInt8] = []
        for e in events { e.write(into: &wire) }
        let items = try parse(wire)
        #expect(items == events.map { SSEItem.event($0) })
        try expectSplitInvariant(wire)
    }
}
