import SluiceFilterAPI

/// Every problem found in a filter file, sorted by position.
public struct FilterFileErrors: Error, Sendable, CustomStringConvertible {
    /// The problems, each with its `path:line:col`.
    public var errors: [ConfigError]

    /// Problems to report together; `description` sorts nothing, so pass them in file order.
    public init(errors: [ConfigError]) {
        self.errors = errors
    }

    /// One `path:line:col: message` per line, no trailing newline.
    public var description: String {
        errors.map(\.description).joined(separator: "\n")
    }
}
