import Foundation
import Synchronization

/// Keeps child processes from being launched while a test holds thousands of descriptors open.
///
/// Foundation's `Process.run` on Linux reads every entry of `/proc/self/fd` by copying the whole
/// 256-byte name field of each record, past the end of the record; when one ends at the end of
/// readdir's buffer and the next page is not mapped, the test process crashes (fixed upstream in
/// swift-corelibs-foundation #5472, not in this toolchain). With a few dozen descriptors the
/// buffer never fills that far; with the slowloris crowd's 10,000 it can. Every launch in the tests
/// goes through `run`; a test that opens thousands brackets them with `beginManyDescriptors` and
/// `endManyDescriptors`. Any thread.
public enum ProcessLaunchGate {
    private struct State {
        var manyDescriptors = 0
        var launching = 0
    }

    private static let state = Mutex(State())

    /// Launches `process` once no test holds thousands of descriptors open.
    public static func run(_ process: Process) throws {
        waitUntil { state in
            guard state.manyDescriptors == 0 else { return false }
            state.launching += 1
            return true
        }
        defer { state.withLock { $0.launching -= 1 } }
        try process.run()
    }

    /// Waits for launches under way, then holds new ones until `endManyDescriptors`.
    public static func beginManyDescriptors() {
        waitUntil { state in
            guard state.launching == 0 else { return false }
            state.manyDescriptors += 1
            return true
        }
    }

    /// The descriptors opened since `beginManyDescriptors` are closed: launches go on.
    public static func endManyDescriptors() {
        state.withLock { $0.manyDescriptors -= 1 }
    }

    /// Polls every 5 ms. Bounded by what the holders do: a launch takes milliseconds, and a test
    /// holding descriptors closes them within its own deadline.
    private static func waitUntil(_ attempt: (inout State) -> Bool) {
        while !state.withLock({ attempt(&$0) }) { usleep(5_000) }
    }
}
