/// Collects every problem found while reading a config, instead of stopping at the first, so a
/// user fixes a file in one round.
///
/// A reference type so that nested readers (`ConfigMap.map(_:)`, filters decoding their own
/// config) all record into the same list. Not thread-safe: it is meant for the single thread
/// that loads a file.
public final class ConfigDiagnostics {
    /// Problems in the order they were recorded.
    public private(set) var errors: [ConfigError] = []

    /// An empty list, for a new file or a filter's config read on its own (a unit test).
    public init() {}

    /// True when nothing was recorded: the config read cleanly.
    public var isEmpty: Bool { errors.isEmpty }

    /// Records `message` at `mark`. Loading thread only. The message should say what is wrong and
    /// what would be right, and not repeat the position.
    public func error(_ message: String, at mark: SourceMark) {
        errors.append(ConfigError(mark: mark, message: message))
    }

    /// Records a problem built elsewhere, for instance one found in a file the config names (a key
    /// file), with its own path and position. Loading thread only.
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
