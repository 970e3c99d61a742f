import SluiceHTTP
import Testing

@Suite("Pipelining")
struct PipeliningTests {
    @Test func twoRequestsInOneBuffer() throws {
        let first = "POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello"
        let second = "GET /b HTTP/1.1\r\nHost: h\r\n\r\n"
        let raw = Array((first + second).utf8)
        var parser = HTTPRequestParser()
        var targets: [String] = []
        var body: [UInt8] = []
        var ends = 0
        try raw.withUnsafeBytes { input in
            let onEvent: (HTTPParseEvent<HTTPRequestHead>) -> Void = { event in
                switch event {
                case .head(let head): targets.append(head.target)
                case .body(let bytes): body.append(contentsOf: bytes)
                case .end: ends += 1
                }
            }
            let used = try parser.parse(input, onEvent)
            #expect(used == first.utf8.count)
            #expect(targets == ["/a"])
            #expect(ends == 1)
            #expect(parser.isComplete)

            parser.reset()
            let rest = UnsafeRawBufferPointer(rebasing: input[used...])
            let usedRest = try parser.parse(rest, onEvent)
            #expect(usedRest == second.utf8.count)
        }
        #expect(targets == ["/a", "/b"])
        #expect(String(decoding: body, as: UTF8.self) == "hello")
        #expect(ends == 2)
    }

    @Test func manyRequestsAcrossSplitsKeepTheirBoundaries() {
        let messages = [
            "GET /1 HTTP/1.1\r\nHost: h\r\n\r\n",
            "POST /2 HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
            "\r\nPOST /3 HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\nxy",
            "GET /4 HTTP/1.0\r\n\r\n",
        ]
        let raw = Array(messages.joined().utf8)
        for seed in UInt64(0)..<32 {
            let pieces = randomPieces(raw.count, seed: seed, maxPiece: 23)
            var parser = HTTPRequestParser()
            var targets: [String] = []
            var bodies: [String] = [""]
            var pieceStart = 0
            for size in pieces {
                let piece = Array(raw[pieceStart..<min(pieceStart + size, raw.count)])
                pieceStart += size
                var offset = 0
                while offset < piece.count {
                    let used = try? piece[offset...].withUnsafeBytes { input in
                        try parser.parse(input) { event in
                            switch event {
                            case .head(let head): targets.append(head.target)
                            case .body(let bytes): bodies[bodies.count - 1] += String(decoding: bytes, as: UTF8.self)
                            case .end: bodies.append("")
                            }
                        }
                    }
                    guard let used else {
                        Issue.record("parse failed, seed \(seed)")
                        return
                    }
                    offset += used
                    if parser.isComplete { parser.reset() }
                }
            }
            #expect(targets == ["/1", "/2", "/3", "/4"], "seed \(seed)")
            #expect(bodies == ["", "abc", "xy", "", ""], "seed \(seed)")
            #expect(parser.isIdle)
        }
    }
}
