import SluiceFilterAPI

// `upstreams:`: a mapping from group name to group.
extension FilterFileDecoder {
    func decodeUpstreams(in file: ConfigMap) -> [UpstreamGroupSpec] {
        guard let upstreams = file.map("upstreams") else { return [] }
        return upstreams.readAllEntries().map { entry in
            if let problem = NameSyntax.problem(with: entry.key) {
                diagnostics.error(problem, at: entry.keyMark)
            }
            return decodeUpstreamGroup(named: entry.key, entry.value, mark: entry.keyMark)
        }
    }

    private func decodeUpstreamGroup(named name: String, _ node: ConfigNode, mark: SourceMark) -> UpstreamGroupSpec {
        let map = ConfigMap(node, diagnostics: diagnostics, context: "upstream '\(name)'")
        map.require("endpoints")
        let endpoints = decodeEndpoints(in: map, group: name)
        let balance = map.oneOf("balance", BalancePolicy.self, default: .roundRobin)
        let pool = decodePool(map.map("pool"))
        let tls = decodeClientTLS(map.map("tls"))
        map.finish()
        return UpstreamGroupSpec(name: name, endpoints: endpoints, balance: balance, pool: pool, tls: tls, mark: mark)
    }

    private func decodeEndpoints(in map: ConfigMap, group: String) -> [EndpointSpec] {
        guard let items = map.strings("endpoints") else { return [] }
        guard let nodes = map.node("endpoints") else { return [] }
        // `strings` accepts a single URL as a one-item list; the marks come from the nodes.
        let itemNodes = nodes.sequence ?? [nodes]
        if items.isEmpty {
            map.error("upstream '\(group)' has no endpoints; list at least one", atValueOf: "endpoints")
        }
        var endpoints: [EndpointSpec] = []
        for (text, node) in zip(items, itemNodes) {
            do {
                endpoints.append(try EndpointURL.parse(text, mark: node.mark))
            } catch {
                diagnostics.error("invalid endpoint '\(text)': \(error.reason)", at: node.mark)
            }
        }
        return endpoints
    }

    private func decodePool(_ map: ConfigMap?) -> PoolSpec {
        guard let map else { return PoolSpec() }
        let defaults = PoolSpec()
        let pool = PoolSpec(
            maxIdlePerEndpoint: map.int("max_idle", default: defaults.maxIdlePerEndpoint, in: 0...10_000),
            idleTimeout: map.duration("idle_timeout", default: defaults.idleTimeout, in: .seconds(1)...(.seconds(3600))),
            connectTimeout: map.duration(
                "connect_timeout", default: defaults.connectTimeout, in: .milliseconds(100)...(.seconds(300))))
        map.finish()
        return pool
    }

    private func decodeClientTLS(_ map: ConfigMap?) -> ClientTLSSpec {
        guard let map else { return ClientTLSSpec() }
        let verify = map.bool("verify", default: true)
        let caFile = readableFile("ca_file", in: map, what: "CA file")
        let serverName = map.string("server_name")
        if let serverName, !HostSyntax.isHostName(Substring(serverName)) {
            map.error("'server_name' must be a host name, got '\(serverName)'", atValueOf: "server_name")
        }
        map.finish()
        var spec = ClientTLSSpec(verify: verify, caFile: caFile, serverName: serverName)
        spec.caFileMark = map.node("ca_file")?.mark
        return spec
    }
}
