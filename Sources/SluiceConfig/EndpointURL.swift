import SluiceFilterAPI

/// Reads the URL of an upstream endpoint.
enum EndpointURL {
    /// Reads `http://host[:port][/base/path]`, `https://…` (same shape) or
    /// `mock://name[?settings]`. Schemes are case-insensitive; host names are lowercased.
    static func parse(_ text: String, mark: SourceMark) throws(SyntaxProblem) -> EndpointSpec {
        guard let separator = text.firstRange(of: "://") else {
            throw SyntaxProblem("must be a URL such as http://host:port, https://host or mock://local")
        }
        let schemeText = text[..<separator.lowerBound].lowercased()
        guard let scheme = EndpointSpec.Scheme(rawValue: schemeText) else {
            throw SyntaxProblem("unsupported scheme '\(text[..<separator.lowerBound])' (use http, https or mock)")
        }
        var rest = text[separator.upperBound...]
        if rest.contains("#") { throw SyntaxProblem("must not have a fragment ('#')") }
        var query: Substring?
        if let questionMark = rest.firstIndex(of: "?") {
            query = rest[rest.index(after: questionMark)...]
            rest = rest[..<questionMark]
        }
        let authority = rest.prefix { $0 != "/" }
        let path = rest[authority.endIndex...]
        if authority.contains("@") {
            throw SyntaxProblem("credentials in the URL are not supported; add them with a filter")
        }
        let (host, port) = try HostSyntax.split(authority, ports: 1...65535)
        guard !host.isEmpty else { throw SyntaxProblem("has no host") }

        switch scheme {
        case .http, .https:
            if query != nil { throw SyntaxProblem("must not have a query string ('?')") }
            if path.contains(where: \.isWhitespace) { throw SyntaxProblem("the path must not contain spaces") }
            var basePath = path
            while basePath.hasSuffix("/") { basePath = basePath.dropLast() }
            return EndpointSpec(
                url: text, scheme: scheme, host: host.lowercased(), port: port ?? (scheme == .https ? 443 : 80),
                basePath: String(basePath), mark: mark)
        case .mock:
            if port != nil || !(path.isEmpty || path == "/") {
                throw SyntaxProblem("a mock endpoint takes no port or path; settings go in the query, e.g. mock://local?ttft=200ms")
            }
            return EndpointSpec(
                url: text, scheme: .mock, host: host.lowercased(), port: 0, mockQuery: String(query ?? ""), mark: mark)
        }
    }
}
