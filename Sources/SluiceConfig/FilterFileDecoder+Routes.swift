import SluiceFilterAPI

// `routes:`: read last, so references to chains and upstream groups can be checked as each
// route is read, at the position of the reference.
extension FilterFileDecoder {
    func decodeRoutes(in file: ConfigMap, upstreams: [UpstreamGroupSpec], chains: [ChainSpec]) -> [RouteSpec] {
        file.require("routes")
        guard let items = file.list("routes") else { return [] }
        if items.isEmpty {
            file.error("at least one route is required", atValueOf: "routes")
        }
        let upstreamNames = upstreams.map(\.name)
        let chainNames = chains.map(\.name)
        var routes: [RouteSpec] = []
        var names: [String: SourceMark] = [:]
        var matches: [RouteMatch: (name: String, mark: SourceMark)] = [:]
        for (index, item) in items.enumerated() {
            let number = index + 1
            guard item.mapping != nil else {
                diagnostics.error("expected a mapping for route \(number), got \(item.summary)", at: item.mark)
                continue
            }
            let map = ConfigMap(item, diagnostics: diagnostics, context: "route \(number)")
            let name = self.name("name", in: map) ?? "route-\(number)"
            checkUnique(name, at: map.node("name")?.mark ?? item.mark, in: &names) { first in
                "duplicate route name '\(name)' (first used at line \(first.line))"
            }
            map.require("path_prefix")
            let pathPrefix = decodePathPrefix(in: map)
            let host = decodeRouteHost(in: map)
            map.require("chain")
            let chain = reference("chain", in: map, route: name, kind: "chain", defined: chainNames)
            map.require("upstream")
            let upstream = reference("upstream", in: map, route: name, kind: "upstream", defined: upstreamNames)
            let dialect = map.oneOf("dialect", DialectSetting.self, default: .auto)
            map.finish()

            if let pathPrefix {
                let match = RouteMatch(host: host, pathPrefix: pathPrefix)
                if let first = matches[match] {
                    diagnostics.error(
                        "route '\(name)' matches the same path_prefix and host as route '\(first.name)' "
                            + "(line \(first.mark.line)), so one of them can never be used",
                        at: map.node("path_prefix")?.mark ?? item.mark)
                } else {
                    matches[match] = (name, item.mark)
                }
            }
            routes.append(RouteSpec(
                name: name, pathPrefix: pathPrefix ?? "/", host: host, chain: chain ?? "", upstream: upstream ?? "",
                dialect: dialect, mark: item.mark))
        }
        return routes
    }

    /// What decides whether a request matches a route; two routes must not share it.
    private struct RouteMatch: Hashable {
        var host: String?
        var pathPrefix: String
    }

    private func decodePathPrefix(in map: ConfigMap) -> String? {
        guard let prefix = map.string("path_prefix") else { return nil }
        guard prefix.hasPrefix("/"), !prefix.contains(where: { $0.isWhitespace || $0 == "?" || $0 == "#" }) else {
            map.error("'path_prefix' must be a path starting with '/', e.g. /v1/, got '\(prefix)'",
                      atValueOf: "path_prefix")
            return nil
        }
        return prefix
    }

    private func decodeRouteHost(in map: ConfigMap) -> String? {
        guard let host = map.string("host") else { return nil }
        guard HostSyntax.isHostName(Substring(host)) else {
            map.error("'host' must be a host name such as api.example.com (without a port), got '\(host)'",
                      atValueOf: "host")
            return nil
        }
        return host.lowercased()
    }

    /// The name under `key`, with an error at it when no `kind` of that name is defined.
    private func reference(
        _ key: String, in map: ConfigMap, route: String, kind: String, defined: [String]
    ) -> String? {
        guard let target = map.string(key) else { return nil }
        if !defined.contains(target) {
            var message = "route '\(route)' refers to \(kind) '\(target)', which is not defined ("
            if let suggestion = ConfigSuggestion.closest(to: target, among: defined) {
                message += "did you mean '\(suggestion)'? "
            }
            map.error(message + "defined: \(Self.list(defined)))", atValueOf: key)
        }
        return target
    }
}
