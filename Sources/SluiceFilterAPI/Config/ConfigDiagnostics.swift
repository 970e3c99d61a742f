/// Collects every problem found while reading a config, instead of stopping at the first, so a
/// user fixes a file in one round.
///
/// A reference type so that nested readers (`ConfigMap.map(_:)`, filters decoding their own
/// config) all record into the same list. Not thread-safe: it is meant for the single thread
/// that loads a file.
public final class ConfigDiagnostics {
    /// Problems in the order they were recorded.
    public private(set) var errors: [ConfigError] = []

    public init() {}

    public var isEmpty: Bool { errors.isEmpty }

    public func error(_ message: String, at mark: SourceMark) {
        errors.append(ConfigError(mark: mark, message: message))
    }

    public func record(_ error: ConfigError) {
        errors.append(error)
    }

    /// Problems ordered by position; problems at the same position keep their recording order.
    public var sortedErrors: [ConfigError] {
        errors.enumerated()
            .sorted { ($0.element.mark, $0.offset) < ($1.element.mark, $1.offset) }
            .map(\.element)
    }
}

// Shared mutable state with no lock: keep it on the loading thread.
@available(*, unavailable)
extension ConfigDiagnostics: Sendable {}
