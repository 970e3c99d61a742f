import ArgumentParser

/// A `HOST:PORT` command-line value (`127.0.0.1:8080`, `[::1]:8080`, `:8080` for all IPv4 addresses).
public struct SocketAddressArgument: ExpressibleByArgument, Sendable {
    /// The host part, an IP literal or a name.
    public var host: String
    /// The port, 0 to 65535.
    public var port: Int

    /// Parses `HOST:PORT` (`[::1]:8080` for IPv6); nil when it is not one.
    public init?(argument: String) {
        guard let colon = argument.lastIndex(of: ":") else { return nil }
        var host = String(argument[..<colon])
        guard let port = Int(argument[argument.index(after: colon)...]), (0...65535).contains(port) else { return nil }
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        if host.isEmpty { host = "0.0.0.0" }
        if host == "localhost" { host = "127.0.0.1" }
        self.host = host
        self.port = port
    }

    /// How `--help` shows the value.
    public static var defaultValueDescription: String { "HOST:PORT" }
}
