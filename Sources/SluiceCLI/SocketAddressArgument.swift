import ArgumentParser

/// A `HOST:PORT` command-line value (`127.0.0.1:8080`, `[::1]:8080`, or `:8080`, whose host is the option's
/// default: every IPv4 address for a listener, loopback for the admin listener, as in the filter file).
public struct SocketAddressArgument: ExpressibleByArgument, Sendable {
    /// The host as written, an IP literal; empty for `:PORT`. Read it through `host(default:)`.
    public var writtenHost: String
    /// The port, 0 to 65535.
    public var port: Int

    /// Parses `HOST:PORT` (`[::1]:8080` for IPv6); nil when it is not one.
    public init?(argument: String) {
        guard let colon = argument.lastIndex(of: ":") else { return nil }
        var host = String(argument[..<colon])
        guard let port = Int(argument[argument.index(after: colon)...]), (0...65535).contains(port) else { return nil }
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        if host == "localhost" { host = "127.0.0.1" }
        self.writtenHost = host
        self.port = port
    }

    /// The host to bind: the written one, or `defaultHost` for `:PORT`.
    public func host(default defaultHost: String) -> String {
        writtenHost.isEmpty ? defaultHost : writtenHost
    }

    /// How `--help` shows the value.
    public static var defaultValueDescription: String { "HOST:PORT" }
}
