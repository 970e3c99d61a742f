import CLibFuzzer
import SluiceFuzzing
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The target chosen on the command line. The C callback libFuzzer calls takes no context, so it
/// reads the choice from here; it is set once, before libFuzzer starts.
private let chosenTarget = Mutex<FuzzTarget?>(nil)

/// The program's entry point. SwiftPM links an executable target's entry as `<target>_main`; the
/// package builds with -parse-as-library (libFuzzer's runtime brings its own `main`), so it is
/// declared here by that name.
///
/// `sluice-fuzz TARGET [libFuzzer options] [corpus folders or files]`: runs libFuzzer on TARGET
/// (see `FuzzTargets.all`). A finding is reported on stderr and ends the process with a trap, which
/// libFuzzer records as a crash with the input that caused it (`crash-<sha1>` in the working
/// directory, or under `-artifact_prefix`).
///
/// The target name is also put in the environment (`SLUICE_FUZZ_TARGET`), and read from there when
/// the first argument names no target: libFuzzer's `-fork`, `-jobs` and `-minimize_crash` run the
/// program again with its own options only.
@_cdecl("sluice_fuzz_main")
func sluiceFuzzMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> Int32 {
    var first = 1
    var target: FuzzTarget?
    if argc >= 2, let argument = argv[1], let named = FuzzTargets.named(String(cString: argument)) {
        target = named
        first = 2
        setenv(targetVariable, named.name, 1)
    } else if let name = getenv(targetVariable) {
        target = FuzzTargets.named(String(cString: name))
    }
    guard let target else {
        let names = FuzzTargets.all.map { "  \($0.name)\t\($0.summary)" }.joined(separator: "\n")
        printError("usage: sluice-fuzz TARGET [libFuzzer options] [corpus...]\ntargets:\n\(names)")
        return 2
    }
    chosenTarget.withLock { $0 = target }
    // libFuzzer sees the program name followed by its own options.
    var arguments = [argv[0]] + (first..<Int(argc)).map { argv[$0] } + [nil]
    var count = Int32(arguments.count - 1)
    return arguments.withUnsafeMutableBufferPointer { buffer in
        var base = buffer.baseAddress
        return LLVMFuzzerRunDriver(&count, &base, runOneInput)
    }
}

private let targetVariable = "SLUICE_FUZZ_TARGET"

/// libFuzzer's per-input callback: runs the chosen target, trapping on a finding.
private let runOneInput: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32 = { data, size in
    guard let target = chosenTarget.withLock({ $0 }) else { return 0 }
    let input = UnsafeRawBufferPointer(start: data, count: data == nil ? 0 : size)
    do throws(FuzzFinding) {
        try target.run(input)
    } catch {
        printError("sluice-fuzz \(target.name): \(error)")
        fatalError("fuzz target \(target.name) found: \(error.message)")
    }
    return 0
}

/// Referenced by the fuzzer runtime's own `main`, which this program does not use; a program linked
/// with -sanitize=fuzzer must still define it.
@_cdecl("LLVMFuzzerTestOneInput")
func fuzzerTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    runOneInput(data, size)
}

/// Writes a line to standard error, unbuffered (the process may trap right after).
private func printError(_ text: String) {
    var line = Array((text + "\n").utf8)
    var written = 0
    while written < line.count {
        let n = line.withUnsafeMutableBytes { write(2, $0.baseAddress! + written, $0.count - written) }
        if n <= 0 { return }
        written += n
    }
}
