import Foundation
import SluiceConfig
import SluiceFilterAPI

/// Parses `yaml` as a config mapping named `c.yaml`.
func configNode(_ yaml: String) throws -> ConfigNode {
    try YAMLLoader.load(text: yaml, path: "c.yaml")
}

/// The positions and messages a reader recorded, as `path:line:col: message` lines.
func recorded(_ diagnostics: ConfigDiagnostics) -> [String] {
    diagnostics.sortedErrors.map(\.description)
}

/// The filter types the filter file tests register.
let testFilterTypes: Set<String> = ["token_bucket", "auth", "retry"]

/// A stand-in for a filter decoding its config: `token_bucket` takes `capacity` (1...1000,
/// required) and `refill` (a duration); the other test types take no keys.
func checkTestFilter(_ spec: FilterSpec, _ diagnostics: ConfigDiagnostics) {
    let config = ConfigMap(spec.config, diagnostics: diagnostics, context: "config of filter '\(spec.name)'")
    if spec.type == "token_bucket" {
        config.require("capacity")
        _ = config.int("capacity", in: 1...1000)
        _ = config.duration("refill")
    }
    config.finish()
}

/// Loads a filter file from text with the test filter types.
func parseFilterFile(_ yaml: String, path: String = "f.yaml") -> Result<FilterFile, FilterFileErrors> {
    FilterFileLoader.parse(text: yaml, path: path, knownFilterTypes: testFilterTypes, checkFilter: checkTestFilter)
}

/// The error lines for `yaml`, or an empty list when it is valid.
func errorLines(_ yaml: String, path: String = "f.yaml") -> [String] {
    switch parseFilterFile(yaml, path: path) {
    case .success: return []
    case .failure(let errors): return errors.errors.map(\.description)
    }
}

/// The positions (`line:col`) of the errors for `yaml`.
func errorPositions(_ yaml: String) -> [String] {
    switch parseFilterFile(yaml) {
    case .success: return []
    case .failure(let errors): return errors.errors.map { "\($0.mark.line):\($0.mark.column)" }
    }
}

/// A fresh directory under the system's temporary directory, removed by the caller.
func makeTemporaryDirectory() throws -> String {
    let path = NSTemporaryDirectory() + "sluice-config-tests-" + UUID().uuidString
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

func writeFile(_ path: String, _ contents: String = "x") throws {
    let directory = (path as NSString).deletingLastPathComponent
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    try contents.write(toFile: path, atomically: true, encoding: .utf8)
}
