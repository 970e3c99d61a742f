import Foundation
import SluiceConfig
import SluiceMock
import SluiceTesting

/// A mock answering after `ttft` (the harness's fast pacing otherwise), failing with `faults` when given.
func hedgeMock(ttft: Duration, faults: [(String, String)] = []) throws -> MockServer {
    var settings = ProxyHarness.fastMock
    settings.timeToFirstToken = ttft
    let mock = MockServer(settings: settings)
    mock.forcedFaults = faults
    try mock.start()
    return mock
}

/// A filter file with an admin listener and one route to the round-robin group `pair` of `first`
/// and `second` (a first request goes to `first`), through `chain` (YAML list items).
func hedgePairFile(_ first: String, _ second: String, chain: String) -> String {
    let chainText = chain.split(separator: "\n", omittingEmptySubsequences: false).map { "    " + $0 }.joined(separator: "\n")
    return """
    listeners:
      - name: test
        address: 127.0.0.1:0
    admin:
      address: 127.0.0.1:0
    upstreams:
      pair:
        balance: round_robin
        endpoints: ["\(first)", "\(second)"]
    routes:
      - path_prefix: /
        chain: main
        upstream: pair
    chains:
      main:
    \(chainText)

    """
}

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
