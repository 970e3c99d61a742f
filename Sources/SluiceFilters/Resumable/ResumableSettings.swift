import SluiceFilterAPI

/// The decoded `config:` of a `resumable` filter. See `ResumableFilter` for what each limit does.
public struct ResumableSettings: Sendable, Equatable {
    /// `window`: how long a stream is kept once it ended or once nobody reads it, and how long a
    /// detached upstream runs on without a reader.
    public var window: Duration = .seconds(60)
    /// `max_bytes`: the most one stream keeps (its newest events), and the budget of a detached
    /// upstream.
    public var maxBytes: Int = 4 * 1024 * 1024
    /// `max_total_bytes`: the most every stream of this filter keeps together.
    public var maxTotalBytes: Int = 256 * 1024 * 1024
    /// `resume_path`: where clients resume; `GET {resume_path}/ID`.
    public var resumePath: String = "/sluice/streams"
    /// `key`: what binds a stream to its client; nil: the `Authorization` header.
    public var key: ClientKey?

    /// What `window` may be set to.
    public static let windowRange: ClosedRange<Duration> = .seconds(1)...(.seconds(86_400))
    /// What `max_bytes` may be set to.
    public static let maxBytesRange: ClosedRange<Int> = 1024...(1 << 30)
    /// What `max_total_bytes` may be set to.
    public static let maxTotalBytesRange: ClosedRange<Int> = 1024...(1 << 40)

    /// The defaults: `{ window: 60s, max_bytes: 4MiB, max_total_bytes: 256MiB, resume_path: /sluice/streams }`.
    public init() {}

    /// The limits the store applies.
    public var limits: StreamLimits {
        StreamLimits(window: window, maxBytes: maxBytes, maxTotalBytes: maxTotalBytes)
    }

    /// Reads the settings from a filter's config. Problems are recorded in `config.diagnostics`
    /// with positions: a duration or size that is malformed or out of range, `max_total_bytes`
    /// below `max_bytes`, a `resume_path` that is not an absolute path without a query, and a
    /// malformed `key`. Unknown keys are reported by the caller's `finish()`.
    public static func decode(_ config: ConfigMap) -> ResumableSettings {
        var settings = ResumableSettings()
        settings.window = config.duration("window", default: settings.window, in: windowRange)
        settings.maxBytes = config.size("max_bytes", default: settings.maxBytes, in: maxBytesRange)
        settings.maxTotalBytes = config.size("max_total_bytes", default: settings.maxTotalBytes, in: maxTotalBytesRange)
        if settings.maxTotalBytes < settings.maxBytes, config.has("max_total_bytes") || config.has("max_bytes") {
            config.error("'max_total_bytes' must be at least 'max_bytes' (\(settings.maxBytes) bytes)",
                         atValueOf: config.has("max_total_bytes") ? "max_total_bytes" : "max_bytes")
        }
        if let path = config.string("resume_path") {
            if let problem = Self.problem(withResumePath: path) {
                config.error("'resume_path' \(problem), got '\(path)'", atValueOf: "resume_path")
            } else {
                settings.resumePath = path.count > 1 && path.hasSuffix("/") ? String(path.dropLast()) : path
            }
        }
        if config.has("key") { settings.key = ClientKey.decode(config, default: .global) }
        return settings
    }

    /// Why `path` cannot be a resume path, or nil when it can.
    static func problem(withResumePath path: String) -> String? {
        guard path.hasPrefix("/") else { return "must start with '/'" }
        guard path != "/" else { return "must not be '/' alone (every request would be a resume)" }
        guard path.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7f && $0 != UInt8(ascii: "?") && $0 != UInt8(ascii: "#") }) else {
            return "must be printable ASCII without spaces, '?' or '#'"
        }
        return nil
    }
}
