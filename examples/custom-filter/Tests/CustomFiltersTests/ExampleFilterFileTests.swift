import Foundation
import SluiceEngine
import SluiceTesting
import Testing

/// `filters/example.yaml` stays a valid filter file for the example binary: what
/// `example-sluice check filters/example.yaml` checks.
@Suite struct ExampleFilterFileTests {
    @Test func theExampleFilterFileIsValid() {
        let path = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("filters/example.yaml").path
        if case .failure(let errors) = FilterFileLoading.load(path: path, registry: exampleRegistry()) {
            Issue.record("\(errors)")
        }
    }
}
