import LoadCore
import Testing

struct SSEScannerTests {
    private func lines(_ pieces: [String]) -> [SSELineKind] {
        var scanner = SSEScanner()
        var out: [SSELineKind] = []
        for p in pieces { Array(p.utf8).withUnsafeBytes { scanner.feed($0) { out.append($0) } } }
        return out
    }

    @Test func classifiesContentRoleOnlyAndDone() {
        let body = "data: {\"choices\":[{\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}\n\n"
            + "data: {\"choices\":[{\"delta\":{\"content\":\" alpha\"}}]}\n\n"
            + ": keepalive\n\n"
            + "data: {\"choices\":[{\"delta\":{\"content\": null}}]}\r\n\r\n"
            + "data: [DONE]\n\n"
        #expect(lines([body]) == [.otherData, .other, .content, .other, .other, .other, .otherData, .other, .done, .other])
    }

    @Test func linesCutAcrossReadsAreJoined() {
        let body = "data: {\"choices\":[{\"delta\":{\"content\":\" bravo\"}}]}\n\ndata: [DONE]\n\n"
        let bytes = Array(body.utf8)
        for cut in 1..<bytes.count {
            let a = String(decoding: bytes[..<cut], as: UTF8.self), b = String(decoding: bytes[cut...], as: UTF8.self)
            #expect(lines([a, b]) == [.content, .other, .done, .other])
        }
    }

    @Test func contentWithSpaceAfterColon() {
        #expect(lines(["data: {\"delta\": {\"content\": \"x\"}}\n"]) == [.content])
    }

    @Test func percentiles() {
        var s = (1...100).map(Double.init)
        let summary = Summary(&s)
        #expect(summary.p50 == 50)
        #expect(summary.p99 == 99)
        #expect(summary.max == 100)
    }
}
