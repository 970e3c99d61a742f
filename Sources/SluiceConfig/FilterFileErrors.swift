import SluiceFilterAPI

/// Every problem found in a filter file, sorted by position.
public struct FilterFileErrors: Error, Sendable, CustomStringConvertible {
    public var errors: [ConfigError]

    public init(errors: [ConfigError]) {
        self.errors = errors
    }

    /// One `path:line:col: message` per line, no trailing newline.
    public var description: String {
        errors.map(\.description).joined(separator: "\n")
    }
}
