import SluiceFilterAPI

/// `sse`: the body of an upstream event stream, read by `SSEParser` (with a small event limit, so
/// the limit is reachable), each event then classified by `LLMEventClassifier` in both dialects and
/// counted by `StreamTokenAccount`, as the proxy does with every stream.
///
/// Checks: the whole input, one byte at a time, and two sets of random cuts give the same items,
/// the same error, the same partial-event state and the same last event id and retry; every event,
/// written back by `SSEEvent.write(into:)`, parses to itself alone.
enum SSEStreamTarget {
    static let target = FuzzTarget(
        name: "sse",
        summary: "SSEParser + LLMEventClassifier: whole, byte by byte and random splits agree; events round-trip"
    ) { input throws(FuzzFinding) in try check(input) }

    static let maxEventBytes = 512

    /// What the parser reported for one way of feeding the input.
    struct Transcript: Equatable, CustomStringConvertible {
        var items: [SSEItem] = []
        var error: SSEParseError?
        var hasPartialEvent = false
        var lastEventID: String?
        var reconnectionTime: Int?

        var description: String {
            "\(items.count) items \(items), error \(String(describing: error)), partial \(hasPartialEvent), "
                + "last id \(String(describing: lastEventID)), retry \(String(describing: reconnectionTime))"
        }
    }

    static func check(_ input: UnsafeRawBufferPointer) throws(FuzzFinding) {
        let whole = transcript(input, pieces: InputSplits.whole(input.count))
        try FuzzFinding.expectEqual(whole, transcript(input, pieces: InputSplits.bytewise(input.count)), "whole", "byte-by-byte")
        for variant in 1...2 as ClosedRange<UInt64> {
            let split = transcript(input, pieces: InputSplits.random(input, variant: variant))
            try FuzzFinding.expectEqual(whole, split, "whole", "random split \(variant)")
        }
        for dialect in StreamDialect.allCases {
            var account = StreamTokenAccount(dialect: dialect)
            for case .event(let event) in whole.items {
                let info = account.record(event)
                try FuzzFinding.expectEqual(info, LLMEventClassifier.classify(event, dialect: dialect),
                                            "the account's classification", "the classifier's")
            }
        }
        for case .event(let event) in whole.items {
            try checkRoundTrip(event)
        }
    }

    static func transcript(_ input: UnsafeRawBufferPointer, pieces: [Int]) -> Transcript {
        var parser = SSEParser(maxEventBytes: maxEventBytes)
        var transcript = Transcript()
        InputSplits.forEachPiece(of: input, lengths: pieces) { piece in
            do throws(SSEParseError) {
                try parser.feed(piece) { transcript.items.append($0) }
                return true
            } catch {
                transcript.error = error
                return false
            }
        }
        transcript.hasPartialEvent = parser.hasPartialEvent
        transcript.lastEventID = parser.lastEventID
        transcript.reconnectionTime = parser.reconnectionTime
        return transcript
    }

    /// The wire form of a parsed event must read back as exactly that event, and nothing else.
    private static func checkRoundTrip(_ event: SSEEvent) throws(FuzzFinding) {
        var parser = SSEParser(maxEventBytes: Int.max)
        let items: [SSEItem]
        do {
            items = try parser.feed(event.serialized)
        } catch {
            throw FuzzFinding("a written event does not parse", details: "\(event): \(error)")
        }
        try FuzzFinding.expectEqual([SSEItem.event(event)], items, "the event", "its wire form parsed back")
    }
}
