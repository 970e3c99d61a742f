/// The access log (`access_log:`): one line per exchange, where it goes and which exchanges.
///
/// ```yaml
/// access_log:
///   output: stdout      # stdout (default), stderr, off, or a file path (relative to this file)
///   format: json        # json (default): one JSON object per line; text: key=value pairs
///   level: info         # info (default): every exchange; warning: only those that did not complete
/// ```
public struct AccessLogSpec: Sendable, Equatable {
    public enum Output: Sendable, Equatable {
        case stdout, stderr, off
        /// An absolute path, appended to; reopened on every reload so rotation needs only a SIGHUP.
        case file(String)
    }

    public enum Format: String, Sendable, CaseIterable {
        case json, text
    }

    public enum Level: String, Sendable, CaseIterable {
        /// Every exchange.
        case info
        /// Only exchanges that did not complete: rejected, failed, timed out, truncated, client gone.
        case warning
    }

    public var output: Output
    public var format: Format
    public var level: Level

    public init(output: Output = .stdout, format: Format = .json, level: Level = .info) {
        self.output = output
        self.format = format
        self.level = level
    }
}
