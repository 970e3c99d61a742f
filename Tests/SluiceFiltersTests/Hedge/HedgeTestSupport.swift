import Foundation
import SluiceConfig
import SluiceTesting

/// An access log in a fresh temporary file (JSON lines), read back once the line is there.
struct HedgeAccessLog {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("sluice-hedge-\(UUID().uuidString).log").path

    var spec: AccessLogSpec { AccessLogSpec(output: .file(path)) }

    /// The line with this request id, waiting up to 5 s for the log's writer thread.
    func entry(requestID: String) throws -> [String: Any] {
        let deadline = ContinuousClock.now + .seconds(5)
        repeat {
            let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
            for line in text.split(separator: "\n") {
                if let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                   object["request_id"] as? String == requestID { return object }
            }
            Thread.sleep(forTimeInterval: 0.02)
        } while ContinuousClock.now < deadline
        throw HedgeTestError.noLine(requestID)
    }
}

enum HedgeTestError: Error { case noLine(String) }
