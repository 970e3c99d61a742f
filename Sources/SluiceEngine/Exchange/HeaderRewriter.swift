import SluiceFilterAPI
import SluiceHTTP

/// The header rules of a proxy hop: what the upstream gets and what the client gets.
enum HeaderRewriter {
    /// Hop-by-hop headers (RFC 9110 section 7.6.1) never cross the proxy. Neither do the proxy
    /// authentication fields: credentials meant for a proxy are not the backend's to read, and a
    /// backend's proxy challenge is not the client's to answer.
    static let hopByHop: [String] = ["connection", "keep-alive", "proxy-connection", "te", "trailer",
                                     "transfer-encoding", "upgrade", "proxy-authorization", "proxy-authenticate",
                                     "proxy-authentication-info"]

    /// The fields the upstream request gets from the proxy, each replacing any the client sent: with
    /// the hop-by-hop ones, one pass removes them all. `x-forwarded-host` is replaced only when the
    /// client sent a Host (`upstreamReplacedWithHost`).
    static let upstreamReplaced = HTTPFieldNameSet(hopByHop + ["content-length", "host", "x-forwarded-for",
                                                               "x-forwarded-proto", "x-request-id"])
    static let upstreamReplacedWithHost = HTTPFieldNameSet(hopByHop + ["content-length", "host", "x-forwarded-for",
                                                                       "x-forwarded-proto", "x-request-id", "x-forwarded-host"])
    private static let hopByHopSet = HTTPFieldNameSet(hopByHop)

    static func removeHopByHop(_ headers: inout HTTPHeaders) {
        let named = connectionNamed(headers)
        headers.remove(anyOf: hopByHopSet)
        for name in named { headers.remove(name) }
    }

    /// The fields the sender named in Connection, which are hop-by-hop too (lowercased).
    /// Adds the filters' response fields (`exchange.responseHeaders`), in order; the first of each
    /// name replaces the head's fields of that name (a filter's RateLimit-* wins over an upstream's
    /// or an error's own).
    static func addResponseFields(_ added: [(String, String)], to headers: inout HTTPHeaders) {
        guard !added.isEmpty else { return }
        // A filter adds a handful: looking back over them costs less than a set of lowercased copies.
        for (i, (name, value)) in added.enumerated() {
            if !added[..<i].contains(where: { HTTPHeaders.sameName($0.0, name) }) { headers.remove(name) }
            headers.add(name, value)
        }
    }

    static func connectionNamed(_ headers: HTTPHeaders) -> [String] {
        // Most heads have no Connection field: one lookup answers.
        guard headers.contains(.connection) else { return [] }
        var named: [String] = []
        for value in headers.values(.connection) {
            for token in value.split(separator: ",") {
                let t = token.trimmingSpaces.lowercased()
                if !t.isEmpty { named.append(t) }
            }
        }
        return named
    }

    /// The request head as the upstream gets it.
    /// `allowUnderscores` false drops fields with `_` in their name: many backends (CGI-style, several Python and
    /// Ruby servers) read `_` as `-`, so a `Transfer_Encoding` or `Content_Length` we forwarded as an unknown field
    /// would frame the request for them.
    static func upstreamRequest(from request: HTTPRequestHead, exchange: Exchange, endpoint: UpstreamEndpoint,
                                bodyFraming: UpstreamBodyFraming, allowUnderscores: Bool) -> HTTPRequestHead {
        var headers = request.headers
        let clientHost = headers[.host]
        let named = connectionNamed(headers)
        // An X-Forwarded-For the client named in Connection is hop-by-hop: it is not extended.
        let prior = named.contains("x-forwarded-for") ? nil : headers[.xForwardedFor]
        // What follows equals removing the hop-by-hop fields and then setting each field below in
        // turn (`set` removes a name's fields and appends one at the end), with one pass over the fields.
        headers.remove(anyOf: clientHost == nil ? upstreamReplaced : upstreamReplacedWithHost)
        for name in named { headers.remove(name) }
        if !allowUnderscores { headers.removeFields(whoseNameContains: UInt8(ascii: "_")) }
        // The six fields below, with room for the usual values, in one allocation.
        headers.reserveCapacity(addingFields: 6, bytes: 192 + endpoint.authority.utf8.count + (clientHost?.utf8.count ?? 0)
                                    + (prior?.utf8.count ?? 0) + exchange.id.utf8.count)
        headers.add("host", endpoint.authority)
        if let clientHost { headers.add("x-forwarded-host", clientHost) }
        if let prior, !prior.isEmpty {
            headers.add("x-forwarded-for", prior + ", " + exchange.client.address)
        } else {
            headers.add("x-forwarded-for", exchange.client.address)
        }
        headers.add("x-forwarded-proto", exchange.client.secure ? "https" : "http")
        headers.add("x-request-id", exchange.id)
        switch bodyFraming {
        case .none: break
        case .contentLength(let n): headers.add("content-length", String(n))
        case .chunked: headers.add("transfer-encoding", "chunked")
        }
        let target = endpoint.basePath.isEmpty ? request.target : endpoint.basePath + request.target
        return HTTPRequestHead(method: request.method, target: target, version: .http1_1, headers: headers)
    }
}

extension HeaderRewriter {
    /// Writes the request head the upstream gets, the same bytes as
    /// `upstreamRequest(from:...).write(into:)`, without making it: the client's fields are written
    /// as they lie, leaving out the ones `upstreamRequest` removes (and `expect`, when
    /// `removingExpect`), and the proxy's own follow. No copy of the client's head is edited, so
    /// neither its fields nor their bytes are copied.
    static func writeUpstreamRequest(_ request: HTTPRequestHead, exchange: Exchange, endpoint: UpstreamEndpoint,
                                     bodyFraming: UpstreamBodyFraming, allowUnderscores: Bool, removingExpect: Bool = false,
                                     into buffer: inout [UInt8]) {
        withUpstreamRequest(request, exchange: exchange, endpoint: endpoint, bodyFraming: bodyFraming,
                            allowUnderscores: allowUnderscores, removingExpect: removingExpect) { buffer.append(contentsOf: $0) }
    }

    /// Calls `use` with the bytes `writeUpstreamRequest` writes, in memory that lives only during
    /// the call (`HeadWriter.withBytes`): for writing them straight into the upstream's socket.
    static func withUpstreamRequest(_ request: HTTPRequestHead, exchange: Exchange, endpoint: UpstreamEndpoint,
                                    bodyFraming: UpstreamBodyFraming, allowUnderscores: Bool, removingExpect: Bool,
                                    _ use: (UnsafeRawBufferPointer) -> Void) {
        let headers = request.headers
        let named = connectionNamed(headers)
        let prior = named.contains("x-forwarded-for") ? nil : headers[.xForwardedFor]
        let namedSet = named.isEmpty ? nil : HTTPFieldNameSet(named)
        let address = exchange.client.address
        // The client's Host is written from its bytes, with no String made of it.
        headers.withFirstValue(of: .host) { clientHost in
            let replaced = clientHost == nil ? upstreamReplaced : upstreamReplacedWithHost
            // The head, the prefix, a version, and the six fields below: names of 17 bytes at most, four
            // bytes around each value, and 20 digits for a length.
            let bound = request.writeBound + 3 * endpoint.basePath.utf8.count + 8 + 6 * (17 + 4) + 20
                + endpoint.authority.utf8.count + (clientHost?.count ?? 0) * 3 + (prior?.utf8.count ?? 0) + 2
                + address.utf8.count + exchange.id.utf8.count
            HeadWriter.withBytes(bound: bound, { writer in
                request.write(into: &writer, version: .http1_1, targetPrefix: endpoint.basePath, skipping: { name in
                    // No known name has a `_`.
                    replaced.contains(name) || namedSet?.contains(name) == true || (removingExpect && name.known == .expect)
                        || (!allowUnderscores && name.known == nil && name.bytes.contains(UInt8(ascii: "_")))
                }, adding: { out in
                    out.appendField(known: "host", endpoint.authority)
                    if let clientHost { out.appendField(known: "x-forwarded-host", bytes: clientHost) }
                    if let prior, !prior.isEmpty {
                        out.appendField(known: "x-forwarded-for", prior + ", " + address)
                    } else {
                        out.appendField(known: "x-forwarded-for", address)
                    }
                    out.appendField(known: "x-forwarded-proto", exchange.client.secure ? "https" : "http")
                    out.appendField(known: "x-request-id", exchange.id)
                    switch bodyFraming {
                    case .none: break
                    case .contentLength(let n): out.appendField(known: "content-length", decimal: n)
                    case .chunked: out.appendField(known: "transfer-encoding", "chunked")
                    }
                })
            }, use)
        }
    }
}

enum UpstreamBodyFraming: Equatable {
    case none
    case contentLength(Int)
    case chunked
}

extension StringProtocol {
    var trimmingSpaces: Substring {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" { s.removeFirst() }
        while let l = s.last, l == " " || l == "\t" { s.removeLast() }
        return s
    }
}
