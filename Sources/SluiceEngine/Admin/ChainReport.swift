import SluiceConfig
import SluiceFilterAPI

/// `/admin/chain`: the chain version in force and the configuration it was built from, as JSON.
/// Filter configs are shown as written, except that the value of any key that looks like it holds
/// a secret (see `looksSecret`) is replaced by `"<redacted>"`:
/// the admin listener is loopback-only by default, but its answers end up in tickets and chats.
enum ChainReport {
    static func json(version: Int, file: FilterFile, loadedAt: String) -> String {
        var out = "{\"version\":\(version),\"path\":\(q(file.path)),\"loaded_at\":\(q(loadedAt))"
        out += ",\"listeners\":[" + file.listeners.map { l in
            "{\"name\":\(q(l.name)),\"address\":\(q("\(l.host):\(l.port)")),\"tls\":\(l.tls != nil)}"
        }.joined(separator: ",") + "]"
        out += ",\"limits\":{\"max_connections\":\(file.limits.maxConnections),\"max_header_bytes\":\(file.limits.maxHeaderBytes)"
        out += ",\"max_headers\":\(file.limits.maxHeaders),\"max_request_body\":\(file.limits.maxRequestBody)}"
        out += ",\"shared_state\":" + (file.sharedState.map(sharedState) ?? "null")
        out += ",\"upstreams\":[" + file.upstreams.map { g in
            "{\"name\":\(q(g.name)),\"balance\":\(q("\(g.balance)")),\"endpoints\":[" +
                g.endpoints.map { q(withoutUserInfo($0.url)) }.joined(separator: ",") + "]}"
        }.joined(separator: ",") + "]"
        out += ",\"routes\":[" + file.routes.map { r in
            "{\"name\":\(q(r.name)),\"path_prefix\":\(q(r.pathPrefix)),\"host\":\(r.host.map(q) ?? "null"),\"chain\":\(q(r.chain))," +
                "\"upstream\":\(q(r.upstream)),\"dialect\":\(q("\(r.dialect)"))}"
        }.joined(separator: ",") + "]"
        out += ",\"chains\":[" + file.chains.map { c in
            "{\"name\":\(q(c.name)),\"filters\":[" + c.filters.map { f in
                "{\"name\":\(q(f.name)),\"type\":\(q(f.type)),\"config\":\(config(f.config))}"
            }.joined(separator: ",") + "]}"
        }.joined(separator: ",") + "]}\n"
        return out
    }

    private static func q(_ s: String) -> String { JSONText.quoted(s) }

    /// The `shared_state` section without its secrets: the password and the key secret show only
    /// whether they are set and where they come from.
    private static func sharedState(_ spec: SharedStateSpec) -> String {
        let password = spec.password == nil ? "null" : q("<redacted>")
        return "{\"url\":\(q(spec.displayURL)),\"username\":\(spec.username.map(q) ?? "null"),\"password\":\(password)"
            + ",\"password_source\":\(spec.passwordSource.map(q) ?? "null"),\"key_secret\":\(spec.keySecret == nil ? "null" : q("<redacted>"))"
            + ",\"key_prefix\":\(q(spec.keyPrefix)),\"timeout\":\(q(ConfigParse.durationText(spec.timeout)))"
            + ",\"connect_timeout\":\(q(ConfigParse.durationText(spec.connectTimeout)))"
            + ",\"lease_ttl\":\(q(ConfigParse.durationText(spec.leaseTTL))),\"on_failure\":\(q(spec.onFailure.rawValue))"
            + ",\"tls_verify\":\(spec.tls ? String(spec.verify) : "null")}"
    }

    /// A filter's config as JSON, with secrets redacted (see `looksSecret`); scalars stay strings.
    static func config(_ n: ConfigNode) -> String { node(n, redact: false) }

    /// A config node as JSON; scalars stay strings, as the YAML gave them.
    private static func node(_ n: ConfigNode, redact: Bool) -> String {
        if redact { return q("<redacted>") }
        switch n.value {
        case .null: return "null"
        case .scalar(let s): return q(s)
        case .sequence(let items): return "[" + items.map { node($0, redact: false) }.joined(separator: ",") + "]"
        case .mapping(let entries):
            return "{" + entries.map { "\(q($0.key)):\(node($0.value, redact: looksSecret($0.key)))" }.joined(separator: ",") + "}"
        }
    }

    /// `api_key`, `upstream_token`, `password`, `authorization`, ... but not `key` (token_bucket's
    /// choice of client key), `key_file`, `default_max_tokens` or `first_token` (a timeouts timer).
    static func looksSecret(_ key: String) -> Bool {
        if key.lowercased() == "first_token" { return false }
        let words = key.lowercased().split { $0 == "_" || $0 == "-" }.map(String.init)
        let secretWords: Set<String> = ["secret", "secrets", "password", "passwd", "authorization", "credential", "credentials",
                                        "bearer", "apikey"]
        if words.contains(where: secretWords.contains) { return true }
        return words.count > 1 && (words.last == "key" || words.last == "token")
    }

    private static func withoutUserInfo(_ url: String) -> String {
        guard let scheme = url.range(of: "://"), let at = url[scheme.upperBound...].firstIndex(of: "@") else { return url }
        let slash = url[scheme.upperBound...].firstIndex(of: "/") ?? url.endIndex
        return at < slash ? String(url[..<scheme.upperBound]) + String(url[url.index(after: at)...]) : url
    }
}
