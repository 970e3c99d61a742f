import SluiceConfig
import SluiceFilterAPI
import SluiceHTTP
import SluiceIO
import Synchronization

/// Everything compiled from one load of the filter file: routes, chains with live filter instances,
/// upstream groups. Immutable. Each exchange holds the version it started with, so a reload never
/// changes the chain under a stream in flight; a version is freed when its last exchange ends.
final class ChainVersion: Sendable {
    let number: Int
    let file: FilterFile
    let routes: [CompiledRoute]
    let chains: [String: CompiledChain]
    let groups: [String: UpstreamGroup]
    let limits: HTTPLimits
    let clientKeepAliveTimeout: Duration
    /// The Redis store of the file's `shared_state`, or nil; keeps its connections open while
    /// exchanges of this version may still use them.
    let sharedStore: RedisSharedStore?
    /// Exchanges started on this version and not yet ended (`sluice_streams_on_previous_chains`).
    let liveExchanges = Atomic<Int>(0)
    /// Wall-clock time the version was built, for `/admin/chain`.
    let builtAt = AccessLogEntry.now()

    init(number: Int, file: FilterFile, routes: [CompiledRoute], chains: [String: CompiledChain], groups: [String: UpstreamGroup],
         sharedStore: RedisSharedStore? = nil) {
        self.sharedStore = sharedStore
        self.number = number
        self.file = file
        self.routes = routes
        self.chains = chains
        self.groups = groups
        var limits = HTTPLimits()
        limits.maxHeaderBytes = file.limits.maxHeaderBytes
        limits.maxHeaderCount = file.limits.maxHeaders
        limits.maxBodyBytes = file.limits.maxRequestBody
        self.limits = limits
        self.clientKeepAliveTimeout = file.limits.clientKeepAliveTimeout
    }

    /// The first route, in file order, whose host (when set) and path prefix match.
    func route(for request: HTTPRequestHead) -> CompiledRoute? {
        // An ASCII target (nearly every one) is matched on its bytes; any other by `String.hasPrefix`,
        // whose Unicode equivalence a byte compare would not reproduce.
        var target = request.target
        let asciiTarget = target.withUTF8 { bytes in bytes.allSatisfy { $0 < 0x80 } }
        // Read only when a route names a host: most files have none, and this runs per request.
        var host: String??
        for route in routes {
            if let wanted = route.host {
                if host == nil { host = .some(request.headers["host"].map { Self.hostWithoutPort($0).lowercased() }) }
                if host! != wanted { continue }
            }
            let matches = asciiTarget && route.prefixIsPlainASCII
                ? Self.target(&target, startsWith: route.pathPrefix)
                : request.path.hasPrefix(route.pathPrefix)
            if matches { return route }
        }
        return nil
    }

    /// Whether an ASCII `target` starts with `prefix`, an ASCII prefix without `?`: then its path (the
    /// target up to its first `?`) does too, as `path.hasPrefix(prefix)` answers, since ASCII characters
    /// are each their own grapheme (a target holds no CR LF) and their own normal form.
    private static func target(_ target: inout String, startsWith prefix: String) -> Bool {
        var prefix = prefix
        return target.withUTF8 { t in
            prefix.withUTF8 { p in p.count <= t.count && t.prefix(p.count).elementsEqual(p) }
        }
    }

    private static func hostWithoutPort(_ host: String) -> String {
        if host.hasPrefix("[") { return String(host.prefix { $0 != "]" }.dropFirst()) }
        return String(host.prefix { $0 != ":" })
    }
}

/// A route of one version, with its chain and upstream group resolved. A class: an exchange and
/// the route lookup each hold it, and a struct of this many references took about twenty reference
/// counts per copy.
final class CompiledRoute: Sendable {
    let info: RouteInfo
    let pathPrefix: String
    /// `pathPrefix` is ASCII and holds no `?`: it is matched on the bytes of an ASCII target.
    let prefixIsPlainASCII: Bool
    let host: String?
    let chain: CompiledChain
    let group: UpstreamGroup
    let dialect: DialectSetting
    let metrics: RouteMetrics

    init(info: RouteInfo, pathPrefix: String, prefixIsPlainASCII: Bool, host: String?, chain: CompiledChain,
         group: UpstreamGroup, dialect: DialectSetting, metrics: RouteMetrics) {
        self.info = info
        self.pathPrefix = pathPrefix
        self.prefixIsPlainASCII = prefixIsPlainASCII
        self.host = host
        self.chain = chain
        self.group = group
        self.dialect = dialect
        self.metrics = metrics
    }
}

/// Builds a `ChainVersion` from a validated file.
enum ChainVersionBuilder {
    struct BuildError: Error, CustomStringConvertible {
        var description: String
    }

    /// Builds live filters and upstream groups. `previous` lends filter state across a reload;
    /// `mockPort` is where `mock://` endpoints point.
    static func build(file: FilterFile, number: Int, registry: FilterRegistry, previous: ChainVersion?,
                      clock: any SluiceClock, workers: Int, mockPorts: [String: Int], metrics: ProxyMetrics,
                      sharedStore: RedisSharedStore? = nil) throws -> ChainVersion {
        let diagnostics = ConfigDiagnostics()
        var chains: [String: CompiledChain] = [:]
        for spec in file.chains {
            var filters: [any Filter] = []
            for f in spec.filters {
                guard let factory = registry.factory(for: f.type) else {
                    throw BuildError(description: "\(f.mark): unknown filter type '\(f.type)'")
                }
                let old = previous?.chains[spec.name].flatMap { chain in
                    chain.filterNames.firstIndex(of: f.name).map { chain.filters[$0] }
                }
                let config = ConfigMap(f.config, diagnostics: diagnostics, context: "filter '\(f.name)'")
                filters.append(try factory(FilterSetup(type: f.type, name: f.name, chain: spec.name, config: config,
                                                       previous: old, clock: clock, workers: workers,
                                                       metrics: metrics.filterFactory, sharedStore: sharedStore)))
                config.finish()
            }
            chains[spec.name] = CompiledChain(name: spec.name, filters: filters, filterNames: spec.filters.map(\.name))
        }
        if !diagnostics.isEmpty {
            throw BuildError(description: diagnostics.errors.map(\.description).joined(separator: "\n"))
        }

        var groups: [String: UpstreamGroup] = [:]
        var clientContexts: [String: TLSContext] = [:]
        for spec in file.upstreams {
            var endpoints: [UpstreamEndpoint] = []
            for (i, e) in spec.endpoints.enumerated() {
                var host = e.host
                var port = e.port
                var tls: TLSContext? = nil
                switch e.scheme {
                case .mock:
                    guard let mockPort = mockPorts[e.url] else { throw BuildError(description: "\(e.mark): no in-process mock is running for \(e.url)") }
                    host = "127.0.0.1"
                    port = mockPort
                case .https:
                    let key = "\(spec.tls.verify)|\(spec.tls.caFile ?? "")"
                    if let made = clientContexts[key] {
                        tls = made
                    } else {
                        let made = try TLSContext.client(verify: spec.tls.verify, caFile: spec.tls.caFile)
                        clientContexts[key] = made
                        tls = made
                    }
                case .http:
                    break
                }
                let defaultPort = e.scheme == .https ? 443 : 80
                let authority = (e.scheme == .mock || port == defaultPort) ? (e.scheme == .mock ? "\(host):\(port)" : e.host)
                    : "\(e.host.contains(":") ? "[\(e.host)]" : e.host):\(port)"
                endpoints.append(UpstreamEndpoint(
                    id: "\(spec.name)/\(e.url)", group: spec.name, url: e.url, host: host, port: port,
                    basePath: e.basePath, tls: tls, serverName: spec.tls.serverName ?? (tls != nil ? e.host : nil),
                    authority: authority, index: i))
            }
            groups[spec.name] = UpstreamGroup(name: spec.name, endpoints: endpoints, balance: spec.balance,
                                              maxIdlePerEndpoint: spec.pool.maxIdlePerEndpoint, idleTimeout: spec.pool.idleTimeout,
                                              connectTimeout: spec.pool.connectTimeout)
        }

        var routes: [CompiledRoute] = []
        for r in file.routes {
            guard let chain = chains[r.chain], let group = groups[r.upstream] else {
                throw BuildError(description: "\(r.mark): route '\(r.name)' refers to a missing chain or upstream")
            }
            routes.append(CompiledRoute(info: RouteInfo(name: r.name, chain: r.chain, upstreamGroup: r.upstream),
                                        pathPrefix: r.pathPrefix,
                                        prefixIsPlainASCII: r.pathPrefix.utf8.allSatisfy { $0 < 0x80 && $0 != UInt8(ascii: "?") },
                                        host: r.host?.lowercased(), chain: chain, group: group,
                                        dialect: r.dialect, metrics: metrics.route(r.name)))
        }
        return ChainVersion(number: number, file: file, routes: routes, chains: chains, groups: groups, sharedStore: sharedStore)
    }
}
