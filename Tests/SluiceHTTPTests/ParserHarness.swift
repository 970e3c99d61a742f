import SluiceHTTP
import Testing

/// What the tests need from either parser, so one harness drives both.
protocol ParserUnderTest {
    associatedtype Head
    mutating func parse(
        _ input: UnsafeRawBufferPointer, _ onEvent: (HTTPParseEvent<Head>) -> Void
    ) throws(HTTPParseError) -> Int
    var isComplete: Bool { get }
}

extension HTTPRequestParser: ParserUnderTest {}
extension HTTPResponseParser: ParserUnderTest {}

/// Everything a parser reported for one message, normalised so that different input splits compare equal.
struct Transcript<Head> {
    var heads: [Head] = []
    /// Body payload, concatenated across `.body` events.
    var body: [UInt8] = []
    /// Event kinds in order, with adjacent bodies merged: e.g. "head body end".
    var events: [String] = []
    /// Bytes the parser consumed up to and including the message end (or all it was given).
    var consumed = 0
    var error: HTTPParseError?

    var bodyText: String { String(decoding: body, as: UTF8.self) }
    var eventSummary: String { events.joined(separator: " ") }

    mutating func record(_ event: HTTPParseEvent<Head>) {
        switch event {
        case .head(let head):
            heads.append(head)
            events.append("head")
        case .body(let bytes):
            body.append(contentsOf: bytes)
            if events.last != "body" { events.append("body") }
        case .end:
            events.append("end")
        }
    }
}

/// Feeds `bytes` to `parser` in pieces of the given sizes (the remainder goes in a last piece), stopping once the
/// parser completes a message or throws. Checks the consumption contract on the way: a piece is consumed entirely
/// unless the message ended inside it.
func feed<P: ParserUnderTest>(
    _ parser: inout P, _ bytes: [UInt8], pieces: [Int] = [], sourceLocation: SourceLocation = #_sourceLocation
) -> Transcript<P.Head> {
    var transcript = Transcript<P.Head>()
    var sizes = pieces.filter { $0 > 0 }
    let given = sizes.reduce(0, +)
    if given < bytes.count { sizes.append(bytes.count - given) }
    var offset = 0
    for size in sizes where offset < bytes.count {
        let end = min(offset + size, bytes.count)
        do {
            let used = try bytes[offset..<end].withUnsafeBytes { piece in
                try parser.parse(piece) { transcript.record($0) }
            }
            #expect(used <= end - offset, sourceLocation: sourceLocation)
            if used < end - offset {
                #expect(parser.isComplete, "stopped early without completing", sourceLocation: sourceLocation)
            }
            offset += used
        } catch let error as HTTPParseError {
            transcript.error = error
            break
        } catch {
            Issue.record("unexpected error type \(error)", sourceLocation: sourceLocation)
            break
        }
        if parser.isComplete { break }
    }
    transcript.consumed = offset
    return transcript
}

/// Parses one request from `text` in a single piece.
func parseRequest(_ text: String, limits: HTTPLimits = HTTPLimits()) -> Transcript<HTTPRequestHead> {
    var parser = HTTPRequestParser(limits: limits)
    return feed(&parser, Array(text.utf8))
}

/// Parses one response to a request with `method` from `text` in a single piece.
func parseResponse(
    _ text: String, method: String = "GET", limits: HTTPLimits = .responseDefaults
) -> Transcript<HTTPResponseHead> {
    var parser = HTTPResponseParser(limits: limits)
    parser.expectResponse(toMethod: method)
    return feed(&parser, Array(text.utf8))
}

/// Piece sizes that feed `count` bytes one at a time.
func bytewise(_ count: Int) -> [Int] { Array(repeating: 1, count: count) }

/// Random piece sizes covering `count` bytes, reproducible from `seed`.
func randomPieces(_ count: Int, seed: UInt64, maxPiece: Int = 16) -> [Int] {
    var generator = SplitMix64(seed: seed)
    var sizes: [Int] = []
    var covered = 0
    while covered < count {
        let size = Int.random(in: 1...maxPiece, using: &generator)
        sizes.append(size)
        covered += size
    }
    return sizes
}

/// A small deterministic generator so random splits are the same on every run.
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
