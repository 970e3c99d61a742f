import SluiceFilterAPI

/// Which requests go through which chain to which upstream group (`routes:` entries).
public struct RouteSpec: Sendable {
    /// From `name`, or `route-N` (N counting from 1 in file order).
    public var name: String
    /// Requests whose path starts with this match; always starts with `/`.
    public var pathPrefix: String
    /// When set, requests must also carry this `Host` (lowercased here; compare without the port).
    public var host: String?
    /// The name of a chain defined in the same file.
    public var chain: String
    /// The name of an upstream group defined in the same file.
    public var upstream: String
    public var dialect: DialectSetting
    /// The route's entry in the file.
    public var mark: SourceMark

    public init(
        name: String, pathPrefix: String, host: String? = nil, chain: String, upstream: String,
        dialect: DialectSetting = .auto, mark: SourceMark
    ) {
        self.name = name
        self.pathPrefix = pathPrefix
        self.host = host
        self.chain = chain
        self.upstream = upstream
        self.dialect = dialect
        self.mark = mark
    }
}
