import Foundation
import SluiceFilterAPI

// `shared_state:`; see `SharedStateSpec`.
extension FilterFileDecoder {
    func decodeSharedState(_ map: ConfigMap?) -> SharedStateSpec? {
        guard let map else { return nil }
        map.require("url")
        let mark = map.node("url")?.mark ?? SourceMark(path: path, line: 1, column: 1)
        var spec = SharedStateSpec(host: "", mark: mark)
        if let url = map.string("url") {
            do {
                (spec.tls, spec.host, spec.port, spec.database) = try Self.parseRedisURL(url)
            } catch {
                map.error("invalid Redis URL '\(url)': \(error.reason)", atValueOf: "url")
            }
        }
        spec.verify = map.bool("verify", default: true)
        spec.caFile = readableFile("ca_file", in: map, what: "CA file")
        spec.serverName = map.string("server_name")
        if !spec.tls {
            for key in ["ca_file", "server_name", "verify"] where map.has(key) {
                map.error("'\(key)' applies to rediss:// (TLS) only", atValueOf: key)
            }
        }
        spec.username = map.string("username")
        (spec.password, spec.passwordSource) = secret("password", in: map)
        spec.keySecret = secret("key_secret", in: map).value
        spec.keyPrefix = map.string("key_prefix", default: "sluice")
        if spec.keyPrefix.isEmpty || spec.keyPrefix.contains(where: { $0.isWhitespace || $0 == "{" || $0 == "}" }) {
            map.error("'key_prefix' must be non-empty, without spaces or braces (braces make Redis Cluster hash tags)",
                      atValueOf: "key_prefix")
        }
        spec.timeout = map.duration("timeout", default: .milliseconds(50), in: .milliseconds(1)...Duration.seconds(10))
        spec.connectTimeout = map.duration("connect_timeout", default: .seconds(1), in: .milliseconds(10)...Duration.seconds(60))
        spec.leaseTTL = map.duration("lease_ttl", default: .seconds(30), in: .seconds(1)...Duration.seconds(3600))
        spec.onFailure = map.oneOf("on_failure", SharedStateSpec.FailurePolicy.self, default: .local)
        map.finish()
        return spec
    }

    /// A secret given as `NAME: text`, `NAME_env: VARIABLE` or `NAME_file: PATH` (at most one of
    /// them), and where it came from. A missing variable or unreadable file is a positioned error.
    func secret(_ name: String, in map: ConfigMap) -> (value: String?, source: String?) {
        let given = [name, name + "_env", name + "_file"].filter { map.has($0) }
        if given.count > 1 {
            map.error("give only one of \(given.joined(separator: ", "))", atValueOf: given[1])
            return (nil, nil)
        }
        if let text = map.string(name) { return (text, "inline") }
        if let variable = map.string(name + "_env") {
            guard let value = ProcessInfo.processInfo.environment[variable], !value.isEmpty else {
                map.error("the environment variable \(variable) is not set (or is empty)", atValueOf: name + "_env")
                return (nil, nil)
            }
            return (value, "env:\(variable)")
        }
        if let file = readableFile(name + "_file", in: map, what: "\(name) file") {
            guard let text = try? String(contentsOfFile: file, encoding: .utf8) else { return (nil, nil) }
            // A trailing newline is how editors and `echo` end a file, not part of the secret.
            let value = String(text.trimmingCharacters(in: .newlines))
            if value.isEmpty { map.error("\(name) file is empty", atValueOf: name + "_file") }
            return (value, "file:\(file)")
        }
        return (nil, nil)
    }

    /// `redis://host[:port][/db]` or `rediss://…`: (TLS, host, port, database).
    static func parseRedisURL(_ text: String) throws(SyntaxProblem) -> (Bool, String, Int, Int) {
        guard let separator = text.firstRange(of: "://") else {
            throw SyntaxProblem("must be redis://HOST:PORT/DB or rediss://HOST:PORT/DB")
        }
        let tls: Bool
        switch text[..<separator.lowerBound].lowercased() {
        case "redis": tls = false
        case "rediss": tls = true
        default: throw SyntaxProblem("unsupported scheme '\(text[..<separator.lowerBound])' (use redis or rediss)")
        }
        let rest = text[separator.upperBound...]
        if rest.contains("?") || rest.contains("#") { throw SyntaxProblem("must not have a query or a fragment") }
        let authority = rest.prefix { $0 != "/" }
        if authority.contains("@") {
            throw SyntaxProblem("credentials in the URL are not supported; use username and password_env (or password_file)")
        }
        let (host, port) = try HostSyntax.split(authority, ports: 1...65535)
        guard !host.isEmpty else { throw SyntaxProblem("has no host") }
        var path = rest[authority.endIndex...]
        if path.hasPrefix("/") { path = path.dropFirst() }
        var database = 0
        if !path.isEmpty {
            guard let n = Int(path), n >= 0, n <= 15_999, path.allSatisfy(\.isNumber) else {
                throw SyntaxProblem("the path must be a database number, got '\(path)'")
            }
            database = n
        }
        return (tls, host.lowercased(), port ?? 6379, database)
    }
}
