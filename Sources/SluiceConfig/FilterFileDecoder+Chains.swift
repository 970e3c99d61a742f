import SluiceFilterAPI

// `chains:`: a mapping from chain name to a list of filter entries.
extension FilterFileDecoder {
    func decodeChains(in file: ConfigMap, sharedStateDeclared: Bool,
                      checkFilter: (FilterSpec, ConfigDiagnostics) -> Void) -> [ChainSpec] {
        guard let chains = file.map("chains") else { return [] }
        return chains.readAllEntries().map { entry in
            if let problem = NameSyntax.problem(with: entry.key) {
                diagnostics.error(problem, at: entry.keyMark)
            }
            let filters: [FilterSpec]
            switch entry.value.value {
            case .sequence(let items):
                filters = decodeFilters(items, chain: entry.key, sharedStateDeclared: sharedStateDeclared, checkFilter: checkFilter)
            case .null:
                // `name:` with nothing after it reads as a chain with no filters, like `name: []`.
                filters = []
            case .scalar, .mapping:
                diagnostics.error(
                    "chain '\(entry.key)' must be a list of filters, got \(entry.value.summary)", at: entry.value.mark)
                filters = []
            }
            return ChainSpec(name: entry.key, filters: filters, mark: entry.keyMark)
        }
    }

    private func decodeFilters(
        _ items: [ConfigNode], chain: String, sharedStateDeclared: Bool, checkFilter: (FilterSpec, ConfigDiagnostics) -> Void
    ) -> [FilterSpec] {
        var filters: [FilterSpec] = []
        var names: [String: SourceMark] = [:]
        for item in items {
            guard item.mapping != nil else {
                diagnostics.error(
                    "expected a mapping for a filter entry (e.g. '- filter: token_bucket'), got \(item.summary)",
                    at: item.mark)
                continue
            }
            let map = ConfigMap(item, diagnostics: diagnostics, context: "filter entry")
            map.require("filter")
            let type = map.string("filter")
            let name = self.name("name", in: map)
            let config = map.node("config") ?? ConfigNode(value: .null, mark: item.mark)
            map.finish()
            guard let type else { continue }

            let spec = FilterSpec(type: type, name: name ?? type, config: config, mark: item.mark)
            let nameMark = map.node(name == nil ? "filter" : "name")?.mark ?? item.mark
            checkUnique(spec.name, at: nameMark, in: &names) { first in
                "duplicate filter name '\(spec.name)' in chain '\(chain)' (first used at line \(first.line)); "
                    + "give one of them a different 'name'"
            }
            if !sharedStateDeclared, let shared = config["shared"], shared.scalar == "true" || shared.mapping != nil {
                let written = shared.mapping == nil ? "'shared: true'" : "'shared: { batch: ... }'"
                diagnostics.error("\(written) needs a top-level 'shared_state:' section naming the Redis server to share through",
                                  at: shared.mark)
            }
            if knownFilterTypes.contains(type) {
                checkFilter(spec, diagnostics)
            } else {
                map.error(unknownTypeMessage(type), atValueOf: "filter")
            }
            filters.append(spec)
        }
        return filters
    }

    private func unknownTypeMessage(_ type: String) -> String {
        let known = knownFilterTypes.sorted()
        var message = "unknown filter type '\(type)' ("
        if let suggestion = ConfigSuggestion.closest(to: type, among: known) {
            message += "did you mean '\(suggestion)'? "
        }
        return message + "known: \(Self.list(known)))"
    }
}
