/// One problem found in a config file, at the position of the offending key or value.
public struct ConfigError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Where the problem is: the offending key or value, or a position in a file the config names.
    public var mark: SourceMark
    /// What is wrong, written for the person editing the file; it does not repeat the position.
    public var message: String

    /// A problem at `mark`.
    public init(mark: SourceMark, message: String) {
        self.mark = mark
        self.message = message
    }

    /// A problem at `mark`, with the message first, as `ConfigDiagnostics.error(_:at:)` reads.
    public init(_ message: String, at mark: SourceMark) {
        self.init(mark: mark, message: message)
    }

    /// `path:line:col: message`.
    public var description: String { "\(mark): \(message)" }
}
