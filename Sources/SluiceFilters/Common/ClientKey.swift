import SluiceFilterAPI

/// How a filter tells clients apart, as written in a filter's `key:` setting:
///
/// | in the file | the key |
/// |---|---|
/// | `key: ip` | the client's IP address |
/// | `key: { header: x-api-key }` | a hash of that header's value (requests without it share the key `-`) |
/// | `key: route` | the route's name |
/// | `key: global` | one key for everything |
///
/// Header values are secrets (API keys, `Authorization`): they are kept only as a 64-bit keyed hash,
/// never in clear, so they cannot leak into logs, metrics or the admin API. The hash is seeded per
/// process: the same value maps to the same key for the life of the process, and to nothing
/// guessable outside it.
public enum ClientKey: Sendable, Equatable, CustomStringConvertible {
    case clientIP
    case header(String)
    case route
    case global

    /// Reads `key` from `config`; records a positioned error and returns `fallback` when it is malformed.
    public static func decode(_ config: ConfigMap, key: String = "key", default fallback: ClientKey) -> ClientKey {
        guard let node = config.node(key), !node.isNull else { return fallback }
        if let text = node.scalar {
            switch text {
            case "ip": return .clientIP
            case "route": return .route
            case "global": return .global
            default:
                config.diagnostics.error("'\(key)' must be ip, route, global or { header: NAME }, got '\(text)'", at: node.mark)
                return fallback
            }
        }
        let map = ConfigMap(node, diagnostics: config.diagnostics, context: "'\(key)'")
        defer { map.finish() }
        guard let name = map.string("header"), !name.isEmpty else {
            map.require("header")
            return fallback
        }
        return .header(name.lowercased())
    }

    /// The key of `exchange`'s client. Loop thread (reads the exchange).
    public func key(for exchange: Exchange) -> String {
        switch self {
        case .clientIP: return exchange.client.address
        case .route: return exchange.route.name
        case .global: return "*"
        case .header(let name):
            guard let value = exchange.request.headers[name] else { return "-" }
            return ClientKey.hashed(value)
        }
    }

    /// The key of `exchange`'s client as every instance sharing `store` computes it: a header's
    /// value goes through the store's keyed hash (`key_secret`), never in clear. Loop thread.
    public func sharedKey(for exchange: Exchange, store: any SharedStore) -> String {
        switch self {
        case .clientIP, .route, .global: return key(for: exchange)
        case .header(let name):
            guard let value = exchange.request.headers[name] else { return "-" }
            return store.clientKeyHash(value)
        }
    }

    /// A keyed hash of a secret, as 16 hex digits.
    public static func hashed(_ secret: String) -> String {
        var hasher = Hasher()
        hasher.combine(secret)
        let h = UInt64(bitPattern: Int64(hasher.finalize()))
        let digits = String(h, radix: 16)
        return "h" + String(repeating: "0", count: 16 - digits.count) + digits
    }

    public var description: String {
        switch self {
        case .clientIP: return "ip"
        case .header(let name): return "header:\(name)"
        case .route: return "route"
        case .global: return "global"
        }
    }
}
