import Foundation
import SluiceTesting
import Testing

/// The request-smuggling corpus (`Tests/Corpora/request-smuggling.tsv`): every shape goes to a running
/// proxy over a socket of its own, and what the client got and what the upstream saw must match the
/// shape's verdict. A shape the proxy refuses never reaches the upstream; one it forwards arrives as
/// exactly the requests the verdict lists, with their bodies.
@Suite(.serialized)
struct SmugglingCorpusTests {
    /// One line of the corpus.
    struct Shape: CustomTestStringConvertible, Sendable {
        var name: String
        var bytes: [UInt8]
        /// Requests the upstream must see, in order: path and body length.
        var forwarded: [(path: String, bodyBytes: Int)]
        /// The status the proxy answers after them (and then closes), or nil.
        var rejectedWith: Int?
        var testDescription: String { name }
    }

    static let corpusPath = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Corpora/request-smuggling.tsv").path

    static func load() throws -> [Shape] {
        try String(contentsOfFile: corpusPath, encoding: .utf8).split(separator: "\n").compactMap { line in
            if line.hasPrefix("#") { return nil }
            let columns = line.split(separator: "\t", maxSplits: 2, omittingEmptySubsequences: false)
            guard columns.count == 3 else { throw CorpusError(line: String(line)) }
            var shape = Shape(name: String(columns[0]), bytes: try unescape(columns[2]), forwarded: [], rejectedWith: nil)
            var words = columns[1].split(separator: " ")[...]
            while let word = words.popFirst() {
                switch word {
                case "forward", "then": continue
                case "reject": shape.rejectedWith = words.popFirst().flatMap { Int($0) }
                default:
                    let parts = word.split(separator: ":")
                    guard parts.count == 2, let length = Int(parts[1]) else { throw CorpusError(line: String(line)) }
                    shape.forwarded.append((String(parts[0]), length))
                }
            }
            return shape
        }
    }

    struct CorpusError: Error { var line: String }

    /// Reads `\r`, `\n`, `\t`, `\\` and `\xHH`.
    static func unescape(_ text: Substring) throws -> [UInt8] {
        var out: [UInt8] = []
        var iterator = Array(text.utf8).makeIterator()
        while let byte = iterator.next() {
            guard byte == UInt8(ascii: "\\") else { out.append(byte); continue }
            switch iterator.next() {
            case UInt8(ascii: "r"): out.append(13)
            case UInt8(ascii: "n"): out.append(10)
            case UInt8(ascii: "t"): out.append(9)
            case UInt8(ascii: "\\"): out.append(UInt8(ascii: "\\"))
            case UInt8(ascii: "x"):
                let hex = [iterator.next(), iterator.next()].compactMap { $0 }
                guard let value = UInt8(String(decoding: hex, as: UTF8.self), radix: 16) else { throw CorpusError(line: String(text)) }
                out.append(value)
            default: throw CorpusError(line: String(text))
            }
        }
        return out
    }

    @Test func theCorpusIsNotEmptyAndEveryLineReads() throws {
        let shapes = try Self.load()
        #expect(shapes.count >= 150)
        #expect(shapes.contains { $0.rejectedWith == nil })
    }

    @Test func everyShapeGetsItsVerdict() throws {
        let proxy = try ProxyHarness()
        defer { proxy.stop() }
        for shape in try Self.load() {
            let seenBefore = proxy.upstream.journal.entries.count
            let client = try TestClient(port: proxy.port)
            defer { client.close() }
            do {
                try client.sendRaw(shape.bytes)
                for _ in shape.forwarded {
                    let response = try client.readResponse(timeout: .seconds(5))
                    #expect(response.status == 404, "\(shape.name): the mock's answer for an unknown path")
                }
                if let status = shape.rejectedWith {
                    let text = String(decoding: try client.readUntilClosed(timeout: .seconds(5)), as: UTF8.self)
                    #expect(text.hasPrefix("HTTP/1.1 \(status) "), "\(shape.name): \(text.prefix(80))")
                }
            } catch {
                Issue.record("\(shape.name): \(error)")
            }
            let seen = proxy.upstream.journal.entries.dropFirst(seenBefore)
            let got = seen.map { "\($0.head.path):\($0.body.count)" }
            let wanted = shape.forwarded.map { "\($0.path):\($0.bodyBytes)" }
            #expect(got == wanted, "\(shape.name)")
        }
    }
}
