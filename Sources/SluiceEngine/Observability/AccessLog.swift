import Dispatch
import Prometheus
import SluiceConfig
import SluiceIO
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Where access log lines go. Workers hand lines over under a short lock; one writer thread of its
/// own does the `write(2)` calls, so a slow disk or a stdout pipe nobody reads never stalls an
/// event loop. When more than `maxPending` bytes wait, new lines are dropped and counted in
/// `sluice_access_log_dropped_total` rather than held without bound. Thread-safe.
final class AccessLog: Sendable {
    static let maxPending = 8 << 20

    private struct State {
        var spec: AccessLogSpec
        var pending: [UInt8] = []
        /// A spec the writer thread has yet to switch its output to (it owns the descriptor).
        var reopen: AccessLogSpec?
        var stopping = false
    }

    private let state: Mutex<State>
    private let wake = DispatchSemaphore(value: 0)
    private let finished = DispatchSemaphore(value: 0)
    private let dropped: Prometheus.Counter
    /// False while the output is off: workers then skip building entries at all.
    private let enabled: Atomic<Bool>

    init(spec: AccessLogSpec, dropped: Prometheus.Counter) {
        state = Mutex(State(spec: spec, reopen: spec))
        enabled = Atomic(spec.output != .off)
        self.dropped = dropped
        WorkerThread.start(name: "sluice-accesslog") { [self] in self.writeLoop() }
    }

    /// Whether any line can be written now (the output is not off). Any thread; a relaxed read.
    var isEnabled: Bool { enabled.load(ordering: .relaxed) }

    /// Formats and queues the line for `entry`, unless the output is off or the level leaves it out.
    /// Any thread.
    func record(_ entry: AccessLogEntry) {
        let spec = state.withLock { $0.spec }
        if spec.output == .off || (spec.level == .warning && entry.completed) { return }
        let line = entry.line(spec.format)
        let (queued, wasEmpty) = state.withLock { s -> (Bool, Bool) in
            guard !s.stopping, s.pending.count + line.count <= Self.maxPending else { return (false, false) }
            let empty = s.pending.isEmpty
            s.pending.append(contentsOf: line)
            return (true, empty)
        }
        if !queued { dropped.increment() } else if wasEmpty { wake.signal() }
    }

    /// Puts `spec` in force. A file output is reopened even when unchanged, so that a reload after
    /// log rotation writes to the new file. Any thread.
    func reconfigure(_ spec: AccessLogSpec) {
        state.withLock { s in
            s.spec = spec
            s.reopen = spec
        }
        enabled.store(spec.output != .off, ordering: .relaxed)
        wake.signal()
    }

    /// Writes what is queued and stops the writer thread. Any thread; idempotent.
    func close() {
        let first = state.withLock { s -> Bool in
            if s.stopping { return false }
            s.stopping = true
            return true
        }
        guard first else { return }
        wake.signal()
        _ = finished.wait(timeout: .now() + 5)
    }

    private func writeLoop() {
        var fd: Int32 = -1
        var ownsFD = false
        while true {
            _ = wake.wait(timeout: .now() + .milliseconds(200))
            let (bytes, reopen, stopping) = state.withLock { s -> ([UInt8], AccessLogSpec?, Bool) in
                let taken = s.pending
                s.pending = []
                let r = s.reopen
                s.reopen = nil
                return (taken, r, s.stopping)
            }
            if let reopen {
                if ownsFD { _ = Glibc.close(fd) }
                (fd, ownsFD) = Self.open(reopen.output)
            }
            if fd >= 0, !bytes.isEmpty { Self.writeAll(fd, bytes) }
            if stopping {
                if ownsFD { _ = Glibc.close(fd) }
                finished.signal()
                return
            }
        }
    }

    private static func open(_ output: AccessLogSpec.Output) -> (Int32, Bool) {
        switch output {
        case .stdout: return (1, false)
        case .stderr: return (2, false)
        case .off: return (-1, false)
        case .file(let path):
            let fd = Glibc.open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
            return (fd, fd >= 0)
        }
    }

    private static func writeAll(_ fd: Int32, _ bytes: [UInt8]) {
        bytes.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let n = Glibc.write(fd, raw.baseAddress! + offset, raw.count - offset)
                if n > 0 { offset += n } else if n < 0 && errno == EINTR { continue } else { return }
            }
        }
    }
}
