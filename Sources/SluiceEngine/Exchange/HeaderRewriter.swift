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

    static func removeHopByHop(_ headers: inout HTTPHeaders) {
        // Headers the sender named in Connection are hop-by-hop too.
        var named: [String] = []
        for value in headers.values("connection") {
            for token in value.split(separator: ",") {
                let t = token.trimmingSpaces.lowercased()
                if !t.isEmpty { named.append(t) }
            }
        }
        headers.remove(anyOf: hopByHop)
        for name in named { headers.remove(name) }
    }

    /// The request head as the upstream gets it.
    /// `allowUnderscores` false drops fields with `_` in their name: many backends (CGI-style, several Python and
    /// Ruby servers) read `_` as `-`, so a `Transfer_Encoding` or `Content_Length` we forwarded as an unknown field
    /// would frame the request for them.
    static func upstreamRequest(from request: HTTPRequestHead, exchange: Exchange, endpoint: UpstreamEndpoint,
                                bodyFraming: UpstreamBodyFraming, allowUnderscores: Bool) -> HTTPRequestHead {
        var headers = request.headers
        let clientHost = headers["host"]
        removeHopByHop(&headers)
        if !allowUnderscores { headers.removeFields(whoseNameContains: UInt8(ascii: "_")) }
        headers.remove("content-length")
        headers.set("host", endpoint.authority)
        if let clientHost { headers.set("x-forwarded-host", clientHost) }
        if let prior = headers["x-forwarded-for"], !prior.isEmpty {
            headers.set("x-forwarded-for", prior + ", " + exchange.client.address)
        } else {
            headers.set("x-forwarded-for", exchange.client.address)
        }
        headers.set("x-forwarded-proto", exchange.client.secure ? "https" : "http")
        headers.set("x-request-id", exchange.id)
        switch bodyFraming {
        case .none: break
        case .contentLength(let n): headers.set("content-length", String(n))
        case .chunked: headers.set("transfer-encoding", "chunked")
        }
        let target = endpoint.basePath.isEmpty ? request.target : endpoint.basePath + request.target
        return HTTPRequestHead(method: request.method, target: target, version: .http1_1, headers: headers)
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
