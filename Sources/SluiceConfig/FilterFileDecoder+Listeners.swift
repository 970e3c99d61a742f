import SluiceFilterAPI

// `listeners:` and `admin:`, and the check that they do not share an address.
extension FilterFileDecoder {
    /// A listener with where its address was written, for the duplicate-address check.
    struct DecodedListener {
        var spec: ListenerSpec
        /// Nil when the address was missing or malformed (already reported).
        var address: ListenAddress?
        var addressMark: SourceMark
    }

    struct DecodedAdmin {
        var spec: AdminSpec
        var address: ListenAddress?
        var addressMark: SourceMark
    }

    func decodeListeners(in file: ConfigMap) -> [DecodedListener] {
        file.require("listeners")
        guard let items = file.list("listeners") else { return [] }
        if items.isEmpty {
            file.error("at least one listener is required", atValueOf: "listeners")
        }
        var listeners: [DecodedListener] = []
        var names: [String: SourceMark] = [:]
        for (index, item) in items.enumerated() {
            let number = index + 1
            guard item.mapping != nil else {
                diagnostics.error("expected a mapping for listener \(number), got \(item.summary)", at: item.mark)
                continue
            }
            let map = ConfigMap(item, diagnostics: diagnostics, context: "listener \(number)")
            let name = self.name("name", in: map) ?? "listener-\(number)"
            checkUnique(name, at: map.node("name")?.mark ?? item.mark, in: &names) { first in
                "duplicate listener name '\(name)' (first used at line \(first.line))"
            }
            map.require("address")
            let (address, addressMark) = listenAddress(in: map, defaultHost: "0.0.0.0")
            let tls = map.map("tls").map(decodeServerTLS)
            map.finish()
            let spec = ListenerSpec(
                name: name, host: address?.host ?? "", port: address?.port ?? 0, tls: tls, mark: item.mark)
            listeners.append(DecodedListener(spec: spec, address: address, addressMark: addressMark))
        }
        return listeners
    }

    func decodeAdmin(_ map: ConfigMap) -> DecodedAdmin {
        map.require("address")
        let (address, addressMark) = listenAddress(in: map, defaultHost: "127.0.0.1")
        let auth = map.map("auth").flatMap(decodeAdminAuth)
        map.finish()
        let spec = AdminSpec(host: address?.host ?? "127.0.0.1", port: address?.port ?? 0, auth: auth, addressMark: addressMark)
        return DecodedAdmin(spec: spec, address: address, addressMark: addressMark)
    }

    /// `admin.auth`: exactly one of a bearer token or a username with a password, each secret given
    /// inline, by environment variable or by file.
    private func decodeAdminAuth(_ map: ConfigMap) -> AdminAuthSpec? {
        let token = secret("bearer_token", in: map).value
        let password = secret("password", in: map).value
        let username = map.string("username")
        let openPaths = map.strings("open_paths") ?? AdminAuthSpec.defaultOpenPaths
        for path in openPaths where !path.hasPrefix("/") {
            map.error("open_paths entries are paths starting with '/', not '\(path)'", atValueOf: "open_paths")
        }
        let hasToken = ["bearer_token", "bearer_token_env", "bearer_token_file"].contains { map.has($0) }
        let hasBasic = username != nil || ["password", "password_env", "password_file"].contains { map.has($0) }
        map.finish()
        if hasToken && hasBasic {
            map.diagnostics.error("give either a bearer_token or a username and password, not both", at: map.mark)
            return nil
        }
        if hasBasic {
            guard let username, !username.isEmpty, !username.contains(":") else {
                map.diagnostics.error("basic auth needs a username without ':' beside its password", at: map.mark)
                return nil
            }
            guard map.has("password") || map.has("password_env") || map.has("password_file") else {
                map.diagnostics.error("basic auth needs password, password_env or password_file", at: map.mark)
                return nil
            }
            return password.map { AdminAuthSpec(credential: .basic(username: username, password: $0), openPaths: openPaths) }
        }
        guard hasToken else {
            map.diagnostics.error("auth needs bearer_token (or bearer_token_env, bearer_token_file), or username and password", at: map.mark)
            return nil
        }
        return token.map { AdminAuthSpec(credential: .bearer(token: $0), openPaths: openPaths) }
    }

    private func listenAddress(in map: ConfigMap, defaultHost: String) -> (ListenAddress?, SourceMark) {
        let mark = map.node("address")?.mark ?? map.mark
        guard let text = map.string("address") else { return (nil, mark) }
        do {
            return (try ListenAddress.parse(text, defaultHost: defaultHost), mark)
        } catch {
            diagnostics.error("invalid address '\(text)': \(error.reason)", at: mark)
            return (nil, mark)
        }
    }

    private func decodeServerTLS(_ map: ConfigMap) -> ServerTLSSpec {
        map.require("certificate")
        map.require("key")
        let certificate = readableFile("certificate", in: map, what: "certificate file")
        let key = readableFile("key", in: map, what: "key file")
        map.finish()
        return ServerTLSSpec(certificate: certificate ?? "", key: key ?? "",
                             certificateMark: map.node("certificate")?.mark, keyMark: map.node("key")?.mark)
    }

    /// The resolved path of the file named by `key`, with a problem recorded at the value when
    /// it cannot be read.
    func readableFile(_ key: String, in map: ConfigMap, what: String) -> String? {
        guard let written = map.string(key) else { return nil }
        let (path, problem) = files.readableFile(written, what: what)
        if let problem { map.error(problem, atValueOf: key) }
        return path
    }

    /// Two listeners on one address would fail to bind at startup; say so now, at the second.
    /// Port 0 is exempt: each such listener gets its own free port.
    func checkAddressesAreDistinct(listeners: [DecodedListener], admin: DecodedAdmin?) {
        var owners: [ListenAddress: (name: String, mark: SourceMark)] = [:]
        for listener in listeners {
            guard let address = listener.address, address.port != 0 else { continue }
            if let owner = owners[address] {
                diagnostics.error(
                    "listener '\(listener.spec.name)' uses address \(address), "
                        + "already used by listener '\(owner.name)' (line \(owner.mark.line))",
                    at: listener.addressMark)
            } else {
                owners[address] = (listener.spec.name, listener.addressMark)
            }
        }
        if let admin, let address = admin.address, address.port != 0, let owner = owners[address] {
            diagnostics.error(
                "admin address \(address) is already used by listener '\(owner.name)' (line \(owner.mark.line))",
                at: admin.addressMark)
        }
    }
}
