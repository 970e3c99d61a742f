/// One problem found in a config file, at the position of the offending key or value.
public struct ConfigError: Error, Sendable, Equatable, CustomStringConvertible {
    public var mark: SourceMark
    /// What is wrong, written for the person editing the file; it does not repeat the position.
    public var message: String

    public init(mark: SourceMark, message: String) {
        self.mark = mark
        self.message = message
    }

    public init(_ message: String, at mark: SourceMark) {
        self.init(mark: mark, message: message)
    }

    /// `path:line:col: message`.
    public var description: String { "\(mark): \(message)" }
}
