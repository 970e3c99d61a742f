import SluiceHTTP
import Testing

@Suite("Chunked encoding")
struct ChunkedEncodingTests {
    @Test func writeChunkFramesThePayload() {
        var buffer: [UInt8] = []
        Array("hello".utf8).withUnsafeBytes { ChunkedEncoding.writeChunk($0, into: &buffer) }
        #expect(String(decoding: buffer, as: UTF8.self) == "5\r\nhello\r\n")
        let big = [UInt8](repeating: 0x61, count: 300)
        big.withUnsafeBytes { ChunkedEncoding.writeChunk($0, into: &buffer) }
        #expect(buffer.count == 10 + 5 + 300 + 2)
        #expect(Array(buffer[10..<15]) == Array("12c\r\n".utf8))
    }

    @Test func emptyPayloadWritesNothing() {
        var buffer: [UInt8] = [1]
        [UInt8]().withUnsafeBytes { ChunkedEncoding.writeChunk($0, into: &buffer) }
        #expect(buffer == [1])
    }

    @Test(arguments: [(0, "0"), (1, "1"), (15, "f"), (16, "10"), (255, "ff"), (4096, "1000"), (Int.max, "7fffffffffffffff")])
    func chunkHeaderIsLowercaseHex(size: Int, hex: String) {
        #expect(ChunkedEncoding.chunkHeader(size: size) == Array((hex + "\r\n").utf8))
        #expect(ChunkedEncoding.withChunkHeader(size: size) { Array($0) } == Array((hex + "\r\n").utf8))
    }

    @Test func constants() {
        #expect(ChunkedEncoding.chunkTrailer == [0x0D, 0x0A])
        #expect(ChunkedEncoding.lastChunk == Array("0\r\n\r\n".utf8))
    }

    @Test func encodedBodyDecodesToTheSamePayload() {
        var generator = SplitMix64(seed: 42)
        var payload: [UInt8] = []
        var body: [UInt8] = []
        for _ in 0..<50 {
            let chunk = (0..<Int.random(in: 0...700, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
            payload += chunk
            if Bool.random(using: &generator) {
                chunk.withUnsafeBytes { ChunkedEncoding.writeChunk($0, into: &body) }
            } else if !chunk.isEmpty {
                body += ChunkedEncoding.chunkHeader(size: chunk.count) + chunk + ChunkedEncoding.chunkTrailer
            }
        }
        body += ChunkedEncoding.lastChunk
        var parser = HTTPResponseParser()
        let raw = Array("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".utf8) + body
        let transcript = feed(&parser, raw, pieces: randomPieces(raw.count, seed: 9, maxPiece: 512))
        #expect(transcript.error == nil)
        #expect(transcript.body == payload)
        #expect(transcript.consumed == raw.count)
    }
}
