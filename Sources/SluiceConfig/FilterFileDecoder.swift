import SluiceFilterAPI

/// Reads a filter file's node tree into a `FilterFile`, recording every problem it finds in
/// `diagnostics` and carrying on, so one run reports them all. Each section is read in its own
/// file (`FilterFileDecoder+Listeners.swift`, …); checks across sections are made once every
/// section is read.
struct FilterFileDecoder {
    let path: String
    let diagnostics: ConfigDiagnostics
    let knownFilterTypes: Set<String>
    let files: ReferencedFiles

    init(path: String, diagnostics: ConfigDiagnostics, knownFilterTypes: Set<String>) {
        self.path = path
        self.diagnostics = diagnostics
        self.knownFilterTypes = knownFilterTypes
        self.files = ReferencedFiles(filterFilePath: path)
    }

    /// The file as read. Meaningful only when `diagnostics` stayed empty: after a problem, the
    /// offending parts hold placeholders or are left out.
    func decode(_ root: ConfigNode, checkFilter: (FilterSpec, ConfigDiagnostics) -> Void) -> FilterFile {
        let file = ConfigMap(root, diagnostics: diagnostics, context: "the filter file")
        guard root.mapping != nil || root.isNull else {
            // Already reported; listing every missing section on top would only bury it.
            return FilterFile(path: path, listeners: [], upstreams: [], routes: [], chains: [])
        }
        // Sections are read in dependency order, but listed to users in the documented order.
        file.allow("listeners", "admin", "limits", "access_log", "shared_state", "upstreams", "routes", "chains")

        let listeners = decodeListeners(in: file)
        let admin = file.map("admin").map(decodeAdmin)
        let limits = decodeLimits(file.map("limits"))
        let accessLog = decodeAccessLog(file.map("access_log"))
        let sharedState = decodeSharedState(file.map("shared_state"))
        let upstreams = decodeUpstreams(in: file)
        let chains = decodeChains(in: file, sharedStateDeclared: sharedState != nil, checkFilter: checkFilter)
        let routes = decodeRoutes(in: file, upstreams: upstreams, chains: chains)
        file.finish()

        checkAddressesAreDistinct(listeners: listeners, admin: admin)
        return FilterFile(
            path: path, listeners: listeners.map(\.spec), admin: admin?.spec, upstreams: upstreams,
            routes: routes, chains: chains, limits: limits, accessLog: accessLog, sharedState: sharedState)
    }

    /// The value of `key` as a valid name, or nil (with the problem recorded) when it is
    /// absent, not text, or not a valid name.
    func name(_ key: String, in map: ConfigMap) -> String? {
        guard let name = map.string(key) else { return nil }
        if let problem = NameSyntax.problem(with: name) {
            map.error(problem, atValueOf: key)
            return nil
        }
        return name
    }

    /// Records `problem` at `mark` when some earlier item already used `key`; otherwise
    /// remembers `mark` for `key`.
    func checkUnique<Key: Hashable>(
        _ key: Key, at mark: SourceMark, in seen: inout [Key: SourceMark], problem: (SourceMark) -> String
    ) {
        if let first = seen[key] {
            diagnostics.error(problem(first), at: mark)
        } else {
            seen[key] = mark
        }
    }

    /// `a, b, c` in the given order, or `none`.
    static func list(_ names: [String]) -> String {
        names.isEmpty ? "none" : names.joined(separator: ", ")
    }
}
