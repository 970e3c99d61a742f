/// One fuzz target: a check that runs on any byte string and either returns, throws a `FuzzFinding`
/// (the code under test disagreed with itself or broke a stated rule), or crashes (a trap in the code
/// under test).
///
/// Targets are pure functions of their input: no clock, no randomness that the input does not
/// determine, no I/O, no state kept between calls. So a finding reproduces from its input file
/// alone, in a libFuzzer build and in a plain debug build alike. The libFuzzer driver (`fuzz/`)
/// traps on a finding; the corpus replay test reports it as a test failure.
public struct FuzzTarget: Sendable {
    /// The name on the command line and the corpus folder (`fuzz/corpus/<name>/`).
    public let name: String
    /// One line on what the target feeds and what it checks.
    public let summary: String
    private let check: @Sendable (UnsafeRawBufferPointer) throws(FuzzFinding) -> Void

    /// A target called `name` that runs `check` on each input.
    public init(
        name: String, summary: String, check: @escaping @Sendable (UnsafeRawBufferPointer) throws(FuzzFinding) -> Void
    ) {
        self.name = name
        self.summary = summary
        self.check = check
    }

    /// Runs the target on `input`. Any thread; the input is only borrowed for the call.
    public func run(_ input: UnsafeRawBufferPointer) throws(FuzzFinding) {
        try check(input)
    }

    /// Runs the target on `input` (a convenience for tests and replays).
    public func run(_ input: [UInt8]) throws(FuzzFinding) {
        var caught: FuzzFinding?
        input.withUnsafeBytes { bytes in
            do throws(FuzzFinding) { try check(bytes) } catch { caught = error }
        }
        if let caught { throw caught }
    }
}
