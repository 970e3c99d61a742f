import SluiceHTTP
import SluiceTesting
import Testing

@Suite(.serialized)
struct RequestBodyTests {
    @Test func chunkedRequestBodyReachesTheUpstreamWhole() throws {
        let proxy = try ProxyHarness()
        defer { proxy.stop() }
        let client = try TestClient(port: proxy.port)
        defer { client.close() }
        let body = TestClient.chatRequest(stream: false)
        let bytes = Array(body.utf8)
        let half = bytes.count / 2
        var raw = Array("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n".utf8)
        raw += Array(String(half, radix: 16).utf8) + [13, 10] + bytes[..<half] + [13, 10]
        raw += Array(String(bytes.count - half, radix: 16).utf8) + [13, 10] + bytes[half...] + [13, 10]
        raw += Array("0\r\n\r\n".utf8)
        try client.sendRaw(raw)
        let response = try client.readResponse()
        #expect(response.status == 200)
        let seen = try #require(proxy.upstream.journal.entries.first)
        #expect(seen.bodyText == body)
    }

    @Test func expectContinueIsAnsweredSoTheClientSendsItsBody() throws {
        let proxy = try ProxyHarness()
        defer { proxy.stop() }
        let client = try TestClient(port: proxy.port)
        defer { client.close() }
        let body = TestClient.chatRequest(stream: false)
        try client.sendRaw(Array("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nExpect: 100-continue\r\nContent-Length: \(body.utf8.count)\r\n\r\n".utf8))
        let interim = try client.readUntil("\r\n\r\n", timeout: .seconds(5))
        #expect(interim.hasPrefix("HTTP/1.1 100 Continue"))
        try client.sendRaw(Array(body.utf8))
        let response = try client.readResponse()
        #expect(response.status == 200)
        #expect(proxy.upstream.journal.entries.first?.head.headers["expect"] == nil)
    }

    /// Garbage, truncated and mutated requests never crash the proxy; it keeps serving.
    @Test func randomBadInputNeverTakesTheProxyDown() throws {
        let proxy = try ProxyHarness(workers: 1)
        defer { proxy.stop() }
        let valid = Array("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 12\r\n\r\n{\"model\":1}\n".utf8)
        var rng = SeededGenerator(seed: 0x5eed)
        for round in 0..<300 {
            var bytes = valid
            switch round % 4 {
            case 0:  // flip random bytes
                for _ in 0..<Int.random(in: 1...6, using: &rng) {
                    bytes[Int.random(in: 0..<bytes.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
                }
            case 1:  // cut anywhere
                bytes = Array(bytes.prefix(Int.random(in: 0..<bytes.count, using: &rng)))
            case 2:  // pure noise
                bytes = (0..<Int.random(in: 1...400, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            default: // duplicate a random slice into the middle
                let a = Int.random(in: 0..<bytes.count, using: &rng)
                let b = Int.random(in: a..<bytes.count, using: &rng)
                bytes.insert(contentsOf: bytes[a..<b], at: Int.random(in: 0..<bytes.count, using: &rng))
            }
            let client = try TestClient(port: proxy.port)
            try client.sendRaw(bytes)
            // Mostly hang up at once (the proxy must cope with peers that vanish mid-answer); now and
            // then wait for its answer.
            if round % 25 == 0 { _ = try? client.readUntilClosed(timeout: .milliseconds(200)) }
            client.close()
        }
        let response = try TestClient.post(port: proxy.port, path: "/v1/chat/completions", json: TestClient.chatRequest())
        #expect(response.status == 200)
        #expect(response.ending == .complete)
    }
}

/// A small deterministic generator (splitmix64), so a failing round can be replayed.
struct SeededGenerator: RandomNumberGenerator {
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
