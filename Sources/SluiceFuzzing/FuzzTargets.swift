/// Every fuzz target of the project, by name. The libFuzzer driver (`fuzz/`), `scripts/fuzz.sh` and the
/// corpus replay test all take their list from here, so a target added here is built, run in CI and
/// replayed without further wiring (its corpus folder, `fuzz/corpus/<name>/`, must exist).
public enum FuzzTargets {
    public static let all: [FuzzTarget] = [
        RequestParserTarget.target,
        ResponseParserTarget.target,
        SSEStreamTarget.target,
        JSONReaderTarget.target,
        ClassifierTarget.target,
        FilterFileTarget.target,
        RESPStreamTarget.target,
    ]

    /// The target called `name`, or nil.
    public static func named(_ name: String) -> FuzzTarget? {
        all.first { $0.name == name }
    }
}
