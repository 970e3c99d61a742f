import SluiceFilterAPI

/// One backend of an upstream group, written as a URL: `http://host:port`,
/// `https://host[:port][/base/path]`, or `mock://name?settings`.
public struct EndpointSpec: Sendable {
    public enum Scheme: String, Sendable {
        case http, https
        /// The fake LLM backend that runs inside the proxy process; no network involved.
        case mock
    }

    /// The URL as written.
    public var url: String
    public var scheme: Scheme
    /// A host name, an IPv4 address, or an IPv6 address without brackets. For `mock`, the
    /// instance name (`local` in `mock://local`).
    public var host: String
    /// 1...65535; 80 or 443 when the URL has none. 0 for `mock`.
    public var port: Int
    /// Prefixed to every request path sent to this endpoint: empty, or starting with `/` and
    /// without a trailing `/` (`https://h/v1/` gives `/v1`). Always empty for `mock`.
    public var basePath: String
    /// For `mock`: the raw query string after `?` (`ttft=200ms&tokens=40&tps=50`), empty when
    /// there is none. SluiceMock reads it. Always empty for `http` and `https`.
    public var mockQuery: String
    /// The URL in the file.
    public var mark: SourceMark

    public init(
        url: String, scheme: Scheme, host: String, port: Int, basePath: String = "", mockQuery: String = "",
        mark: SourceMark
    ) {
        self.url = url
        self.scheme = scheme
        self.host = host
        self.port = port
        self.basePath = basePath
        self.mockQuery = mockQuery
        self.mark = mark
    }
}
