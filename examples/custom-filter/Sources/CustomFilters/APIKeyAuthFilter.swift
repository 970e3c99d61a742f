import Foundation
import SluiceFilterAPI

/// The `api_key_auth` filter: lets a request through only with a known API key, and tells the
/// filters after it (and the upstream) which client sent it.
///
/// ```yaml
/// - filter: api_key_auth
///   config:
///     keys_file: keys.txt              # relative to the filter file; format in `APIKeyFile`
///     identity_header: x-sluice-client # default
///     upstream_key_env: OPENAI_API_KEY # optional
/// ```
///
/// | key | default | meaning |
/// |---|---|---|
/// | `keys_file` | required | the keys and their clients (see `APIKeyFile`); a relative path is relative to the filter file's directory |
/// | `identity_header` | `x-sluice-client` | the request header that carries the client's name to the rest of the chain and the upstream |
/// | `upstream_key_env` | none | an environment variable holding the key the upstream needs; it replaces the client's key |
///
/// The key is taken from `Authorization: Bearer KEY` (OpenAI clients) or else `x-api-key: KEY`
/// (Anthropic clients). A request without a known key gets 401 at once, before any upstream is
/// asked, in its client's dialect: `{"error":{"message":…,"type":"authentication_error","code":"invalid_api_key"}}`
/// for OpenAI paths, `{"type":"error","error":{"type":"authentication_error","message":…}}` for
/// Anthropic's `/v1/messages`, with `WWW-Authenticate: Bearer`.
///
/// An admitted request gets `identity_header: CLIENT`, replacing whatever the client sent in that
/// header, so clients cannot claim another identity. Filters after this one key on it:
/// `token_bucket` with `key: { header: x-sluice-client }` gives each client its own bucket, and all
/// the keys of one client share it. The header also reaches the upstream, for its own accounting.
///
/// The client's key never reaches the upstream: with `upstream_key_env`, the header the key came in
/// carries the upstream's key instead (`Authorization: Bearer …` or `x-api-key: …`); without it,
/// the key's header is removed (for upstreams that need no key, such as a local vLLM). Keys never
/// appear in messages or logs: errors about the keys file name a line and column, not the key.
///
/// Threads: the keys are read once per chain version, when the filter is built (on the thread that
/// loads the filter file), into an immutable dictionary that every worker reads without a lock.
/// A reload (`sluice reload`, SIGHUP) builds a new instance and so reads the file again; a keys file
/// with problems makes the reload fail and the running chain stays as it was.
public final class APIKeyAuthFilter: Filter {
    /// The header the client's name is written to.
    public let identityHeader: String
    private let clients: [String: String]
    private let upstreamKey: String?
    /// `example_auth_refused_total` on `/metrics`: requests answered 401. (Never labelled with the
    /// key that was tried.)
    private let refused: Counter

    /// Reads the config and the keys file. Problems, the keys file's included, are recorded in
    /// `setup.config.diagnostics` with their positions.
    public init(_ setup: FilterSetup) {
        let config = setup.config
        identityHeader = config.string("identity_header", default: "x-sluice-client").lowercased()
        if identityHeader.isEmpty || identityHeader.contains(where: { $0 == " " || $0 == ":" }) {
            config.error("'identity_header' must be a header name", atValueOf: "identity_header")
        }

        var upstreamKey: String?
        if let variable = config.string("upstream_key_env") {
            if let value = ProcessInfo.processInfo.environment[variable], !value.isEmpty {
                upstreamKey = value
            } else {
                config.error("environment variable '\(variable)' is not set", atValueOf: "upstream_key_env")
            }
        }
        self.upstreamKey = upstreamKey

        config.require("keys_file")
        var clients: [String: String] = [:]
        if let written = config.string("keys_file"), let node = config.node("keys_file") {
            let path = Self.resolve(written, relativeTo: node.mark.path)
            switch APIKeyFile.load(path: path, shownPath: path) {
            case .success(let file): clients = file.clients
            case .failure(let problems): problems.errors.forEach(config.diagnostics.record)
            }
        }
        self.clients = clients
        refused = Counter(label: "example_auth_refused_total", dimensions: setup.metricDimensions, factory: setup.metrics)
    }

    /// Checks the key; loop thread.
    public func onRequest(_ exchange: Exchange) -> Decision {
        guard let (header, key) = presentedKey(exchange.request.headers), let client = clients[key] else {
            refused.increment()
            return .reply(unauthorizedHead, body: unauthorizedBody(exchange.dialect))
        }
        exchange.request.headers.set(identityHeader, client)
        if let upstreamKey {
            exchange.request.headers.set(header, header == "authorization" ? "Bearer \(upstreamKey)" : upstreamKey)
        } else {
            exchange.request.headers.remove(header)
        }
        return .next
    }

    /// The header the key came in and the key, or nil when the request has none.
    private func presentedKey(_ headers: HTTPHeaders) -> (header: String, key: String)? {
        if let value = headers["authorization"] {
            let parts = value.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
            if parts.count == 2, parts[0].lowercased() == "bearer" {
                return ("authorization", parts[1].trimmingCharacters(in: .whitespaces))
            }
        }
        if let value = headers["x-api-key"] {
            return ("x-api-key", value.trimmingCharacters(in: .whitespaces))
        }
        return nil
    }

    private var unauthorizedHead: HTTPResponseHead {
        HTTPResponseHead(status: 401, headers: [
            "content-type": "application/json",
            "www-authenticate": "Bearer",
        ])
    }

    private func unauthorizedBody(_ dialect: StreamDialect) -> [UInt8] {
        let message = JSONText.quoted("missing or unknown API key; send it as 'Authorization: Bearer KEY' or 'x-api-key: KEY'")
        let json = switch dialect {
        case .openai:
            #"{"error":{"message":\#(message),"type":"authentication_error","code":"invalid_api_key"}}"#
        case .anthropic:
            #"{"type":"error","error":{"type":"authentication_error","message":\#(message)}}"#
        }
        return Array(json.utf8)
    }

    /// `written` made absolute, relative to the directory of the filter file at `filterFilePath`.
    static func resolve(_ written: String, relativeTo filterFilePath: String) -> String {
        if written.hasPrefix("/") { return written }
        let directory = URL(fileURLWithPath: filterFilePath).deletingLastPathComponent()
        return directory.appendingPathComponent(written).standardizedFileURL.path
    }
}
