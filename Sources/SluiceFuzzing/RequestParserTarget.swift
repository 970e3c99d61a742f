import SluiceHTTP

/// `request`: the bytes a client sends on one connection, read by `HTTPRequestParser` (pipelined
/// requests included) under small limits, so limit checks are reachable.
///
/// Checks: the whole input, one byte at a time, and two sets of random cuts give the same requests,
/// bodies and verdict (a parser that decides differently on a split is a smuggling vector); every
/// accepted head is free of bare CR and LF; and every accepted head, written back by
/// `HTTPRequestHead.write(into:)`, parses to the same head.
enum RequestParserTarget {
    static let target = FuzzTarget(
        name: "request",
        summary: "HTTPRequestParser: whole, byte by byte and random splits agree; heads have no bare CR/LF and round-trip"
    ) { input throws(FuzzFinding) in try check(input) }

    /// Small enough that the fuzzer reaches every limit with short inputs.
    static let limits: HTTPLimits = {
        var limits = HTTPLimits()
        limits.maxRequestLineBytes = 96
        limits.maxHeaderBytes = 512
        limits.maxHeaderCount = 8
        limits.maxBodyBytes = 256
        limits.maxChunkLineBytes = 24
        limits.maxTrailerBytes = 64
        return limits
    }()

    static func check(_ input: UnsafeRawBufferPointer) throws(FuzzFinding) {
        let parser = HTTPRequestParser(limits: limits)
        func feed(_ pieces: [Int]) throws(FuzzFinding) -> MessageTranscript {
            try MessageTranscriber.transcript(parser, input, pieces: pieces, headRequest: false)
        }
        let bytewise = try feed(InputSplits.bytewise(input.count))
        let whole = try feed(InputSplits.whole(input.count))
        try FuzzFinding.expectEqual(whole, bytewise, "whole", "byte-by-byte")
        for variant in 1...2 as ClosedRange<UInt64> {
            let split = try feed(InputSplits.random(input, variant: variant))
            try FuzzFinding.expectEqual(whole, split, "whole", "random split \(variant)")
        }
        for (start, end) in zip(bytewise.messageStarts, bytewise.headEnds) {
            try HeadLineEndings.check(input, from: start, to: end, what: "request")
        }
        for message in bytewise.messages + (bytewise.partial.map { [$0] } ?? []) {
            try checkRoundTrip(message.head)
        }
    }

    /// A head as the writer rendered it must parse (under the default limits: rendering may
    /// percent-encode) to a head that renders the same.
    private static func checkRoundTrip(_ rendered: [UInt8]) throws(FuzzFinding) {
        var reparsed: Result<MessageTranscript, FuzzFinding> = .success(MessageTranscript())
        rendered.withUnsafeBytes { bytes in
            do throws(FuzzFinding) {
                reparsed = .success(try MessageTranscriber.transcript(
                    HTTPRequestParser(), bytes, pieces: InputSplits.whole(bytes.count), headRequest: false))
            } catch {
                reparsed = .failure(error)
            }
        }
        let again = try reparsed.get()
        guard (again.messages.first?.head ?? again.partial?.head) == rendered else {
            throw FuzzFinding(
                "a written request head does not parse back to itself",
                details: "written: \(String(decoding: rendered, as: UTF8.self).debugDescription)\nreparsed: \(again)")
        }
    }
}
