import Logging
import Synchronization

/// Keeps what an engine logs, for tests that check what it said: give `logger` to the harness
/// (`options: { $0.logger = log.logger }`). Any thread.
public final class CapturedLog: @unchecked Sendable {
    private let entries = Mutex<[(level: Logger.Level, message: String)]>([])

    public init() {}

    /// A logger whose every message at `info` or above is kept here.
    public var logger: Logger {
        Logger(label: "test") { _ in Handler(log: self) }
    }

    /// Every line so far, as `LEVEL MESSAGE` (`warning reload failed; ...`).
    public var lines: [String] { entries.withLock { $0.map { "\($0.level) \($0.message)" } } }

    /// The messages logged at `level` so far, in order, without their level.
    public func messages(at level: Logger.Level) -> [String] {
        entries.withLock { $0.filter { $0.level == level }.map(\.message) }
    }

    struct Handler: LogHandler {
        let log: CapturedLog
        var logLevel: Logger.Level = .info
        var metadata: Logger.Metadata = [:]
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(event: LogEvent) {
            log.entries.withLock { $0.append((event.level, "\(event.message)")) }
        }
    }
}
