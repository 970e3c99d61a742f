import SluiceHTTP
import Testing

/// Mutated messages, valid or not, must get the same verdict however their bytes are split: the same error status,
/// or the same head, body and length. A parser that decides differently on a split is a smuggling vector.
@Suite("Split consistency")
struct SplitConsistencyTests {
    static let seeds: [String] = [
        "POST /v1/chat HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nX-A: a, b\r\n\r\nhello",
        "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n0\r\nT: v\r\n\r\n",
        "\r\nGET /q?x=1 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
        // Chunk size lines the decoder reads in one pass when whole (hex digits, CRLF), including
        // one of 18 digits that it must read byte by byte.
        "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n1A\r\nabcdefghijklmnopqrstuvwxyz\r\n"
            + "000000000000000005\r\nhello\r\n2 \r\nhi\r\n0\r\n\r\n",
    ]
    static let interesting: [UInt8] = [0x0D, 0x0A, 0x20, 0x09, 0x3A, 0x3B, 0x2C, 0x30, 0x61, 0x00, 0x80, 0x7F, 0x46]

    /// One message's outcome in comparable form.
    struct Verdict: Equatable {
        var status: Int?
        var target: String?
        var headers: HTTPHeaders?
        var body: [UInt8]
        var consumed: Int
    }

    static func verdict(_ bytes: [UInt8], pieces: [Int]) -> Verdict {
        var parser = HTTPRequestParser()
        let transcript = feed(&parser, bytes, pieces: pieces)
        if let error = transcript.error {
            // Events before a late error may differ in how far they got; the verdict is the status.
            return Verdict(status: error.status, target: nil, headers: nil, body: [], consumed: 0)
        }
        return Verdict(
            status: nil, target: transcript.heads.first?.target, headers: transcript.heads.first?.headers,
            body: transcript.body, consumed: transcript.consumed)
    }

    @Test(arguments: 0..<4)
    func mutatedMessagesGetTheSameVerdictWhateverTheSplit(seedIndex: Int) {
        var generator = SplitMix64(seed: UInt64(seedIndex) &* 7919)
        let original = Array(Self.seeds[seedIndex].utf8)
        var accepted = 0
        for round in 0..<400 {
            var bytes = original
            for _ in 0..<Int.random(in: 1...3, using: &generator) {
                let position = Int.random(in: 0..<bytes.count, using: &generator)
                let byte = Self.interesting.randomElement(using: &generator)!
                switch Int.random(in: 0..<3, using: &generator) {
                case 0: bytes[position] = byte
                case 1: bytes.insert(byte, at: position)
                default: if bytes.count > 1 { bytes.remove(at: position) }
                }
            }
            let whole = Self.verdict(bytes, pieces: [])
            let bytewiseVerdict = Self.verdict(bytes, pieces: bytewise(bytes.count))
            let random = Self.verdict(bytes, pieces: randomPieces(bytes.count, seed: UInt64(round), maxPiece: 5))
            #expect(bytewiseVerdict == whole, "round \(round): \(String(decoding: bytes, as: UTF8.self).debugDescription)")
            #expect(random == whole, "round \(round): \(String(decoding: bytes, as: UTF8.self).debugDescription)")
            if whole.status == nil { accepted += 1 }
        }
        // The mutations must leave some messages valid, or this test would only ever compare errors.
        #expect(accepted > 10)
    }
}
