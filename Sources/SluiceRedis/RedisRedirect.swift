/// A Redis Cluster node's answer that a key's slot is served elsewhere: `MOVED SLOT HOST:PORT` (the
/// slot lives there now: remember it) or `ASK SLOT HOST:PORT` (it is being moved: send this one
/// command there, after `ASKING`, and remember nothing).
public struct RedisRedirect: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        case moved
        case ask
    }

    public let kind: Kind
    public let slot: Int
    /// Empty when the node did not say (it then means the host of the node that answered).
    public let host: String
    public let port: Int

    /// Reads an error reply; nil when it is not a redirect.
    public init?(errorMessage: String) {
        let parts = errorMessage.split(separator: " ")
        guard parts.count == 3, let slot = Int(parts[1]), (0..<RedisKeySlot.count).contains(slot) else { return nil }
        switch parts[0] {
        case "MOVED": kind = .moved
        case "ASK": kind = .ask
        default: return nil
        }
        // The port follows the last colon: an IPv6 address has colons of its own.
        let address = parts[2]
        guard let colon = address.lastIndex(of: ":"), let port = Int(address[address.index(after: colon)...]),
              (1...65535).contains(port) else { return nil }
        var host = String(address[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        self.slot = slot
        self.host = host
        self.port = port
    }
}
