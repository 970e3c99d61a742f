/// A `HOST:PORT` address to listen on, as written in `listeners[].address` and
/// `admin.address`.
struct ListenAddress: Hashable, CustomStringConvertible {
    var host: String
    var port: Int

    /// Reads `HOST:PORT`, `[IPv6]:PORT`, or `:PORT` (meaning `defaultHost`). The port is required
    /// and may be 0 (any free port).
    static func parse(_ text: String, defaultHost: String) throws(SyntaxProblem) -> ListenAddress {
        let missingPort = SyntaxProblem("missing port; write HOST:PORT, e.g. 127.0.0.1:8080 or [::1]:8080")
        // Checked first: `8080` alone is a port without a host, not a malformed host.
        guard text.contains(":") else { throw missingPort }
        let (host, port) = try HostSyntax.split(Substring(text), ports: 0...65535)
        guard let port else { throw missingPort }
        return ListenAddress(host: host.isEmpty ? defaultHost : host, port: port)
    }

    /// `host:port`, with brackets around an IPv6 host.
    var description: String {
        host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }
}
