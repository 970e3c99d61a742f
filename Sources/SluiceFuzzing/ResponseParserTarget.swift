import SluiceHTTP

/// `response`: the bytes an upstream sends on one connection, read by `HTTPResponseParser` (and
/// through it the body decoder: Content-Length, chunked with extensions and trailers, close-delimited)
/// until the input ends, which is the upstream closing.
///
/// The first input byte says what request the responses answer: `H` for HEAD (no bodies), anything
/// else for GET. The rest is the wire.
///
/// Checks: the whole input, one byte at a time, and two sets of random cuts give the same responses,
/// decoded bodies and ending (error status, or what the close meant: `completed`, `truncated`,
/// `idle`); every accepted head is free of bare CR and LF.
enum ResponseParserTarget {
    static let target = FuzzTarget(
        name: "response",
        summary: "HTTPResponseParser and the body decoder: whole, byte by byte and random splits agree; heads have no bare CR/LF"
    ) { input throws(FuzzFinding) in try check(input) }

    static let limits: HTTPLimits = {
        var limits = HTTPLimits.responseDefaults
        limits.maxRequestLineBytes = 96
        limits.maxHeaderBytes = 512
        limits.maxHeaderCount = 8
        limits.maxChunkLineBytes = 24
        limits.maxTrailerBytes = 64
        return limits
    }()

    static func check(_ input: UnsafeRawBufferPointer) throws(FuzzFinding) {
        guard let first = input.first else { return }
        let headRequest = first == UInt8(ascii: "H")
        let wire = UnsafeRawBufferPointer(rebasing: input[1...])
        let parser = HTTPResponseParser(limits: limits)
        func feed(_ pieces: [Int]) throws(FuzzFinding) -> MessageTranscript {
            try MessageTranscriber.transcript(parser, wire, pieces: pieces, headRequest: headRequest)
        }
        let bytewise = try feed(InputSplits.bytewise(wire.count))
        let whole = try feed(InputSplits.whole(wire.count))
        try FuzzFinding.expectEqual(whole, bytewise, "whole", "byte-by-byte")
        for variant in 1...2 as ClosedRange<UInt64> {
            let split = try feed(InputSplits.random(wire, variant: variant))
            try FuzzFinding.expectEqual(whole, split, "whole", "random split \(variant)")
        }
        for (start, end) in zip(bytewise.messageStarts, bytewise.headEnds) {
            try HeadLineEndings.check(wire, from: start, to: end, what: "response")
        }
    }
}
