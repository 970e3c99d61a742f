import Foundation
import SluiceConfig
import Testing

/// An access log written to a fresh temporary file, read back by tests. The log's writer thread
/// flushes within ~200 ms of an exchange's end, so readers wait (bounded) for the lines they expect.
struct AccessLogFile {
    let path: String

    init() {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("sluice-access-\(UUID().uuidString).log").path
    }

    /// The spec that sends the log here (JSON lines, every exchange).
    var spec: AccessLogSpec { AccessLogSpec(output: .file(path)) }

    /// The log's lines once it has `count` of them, or what it has after 5 s.
    func lines(count: Int) -> [String] {
        let deadline = ContinuousClock.now + .seconds(5)
        var found: [String] = []
        repeat {
            let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
            found = text.split(separator: "\n").map(String.init)
            if found.count >= count { break }
            Thread.sleep(forTimeInterval: 0.02)
        } while ContinuousClock.now < deadline
        return found
    }

    /// One JSON line as an object.
    static func json(_ line: String) throws -> [String: Any] {
        let object = try JSONSerialization.jsonObject(with: Data(line.utf8))
        return try #require(object as? [String: Any])
    }

    /// The entry with this `request_id`, once the log has at least `count` lines.
    func entry(requestID: String, afterLines count: Int) throws -> [String: Any] {
        let entries = try lines(count: count).map(Self.json)
        return try #require(entries.first { $0["request_id"] as? String == requestID }, "no access log line for \(requestID)")
    }
}

extension AccessLogFile {
    /// The log at `path`.
    init(path: String) { self.path = path }
}
