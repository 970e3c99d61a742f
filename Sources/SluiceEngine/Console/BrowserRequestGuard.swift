import SluiceFilterAPI
import SluiceHTTP

/// Keeps other web pages from using the admin listener through an operator's browser. Pure.
///
/// A request is from a browser when it carries `Origin` or `Sec-Fetch-Site`: every current browser
/// sends one of them on a POST and on a script's fetch, and command-line clients (`curl`,
/// `sluice reload`, Prometheus) send neither, so they are not affected.
///
/// - Without `admin.auth`, a browser request must name the listener by an IP address or `localhost`
///   in `Host`. A page on some other domain that re-points its name at 127.0.0.1 (DNS rebinding)
///   would otherwise be same-origin with the listener and could read it.
/// - A browser request that changes something (any method but GET and HEAD) must come from the
///   console itself: `Sec-Fetch-Site` (when sent) `same-origin`, `Origin` (when sent) the listener's
///   own, and the header `x-sluice-csrf` equal to the token the console page carries. A cross-site
///   form cannot set a header, and a cross-site script cannot read the page to learn the token.
enum BrowserRequestGuard {
    /// The header a state-changing request from the console must echo the page's token in.
    static let tokenHeader = "x-sluice-csrf"

    /// Nil when `head` may be answered; otherwise the 403 to send.
    static func refusal(for head: HTTPRequestHead, token: String, authConfigured: Bool) -> AdminResponse? {
        let origin = head.headers["origin"]
        let fetchSite = head.headers["sec-fetch-site"]?.lowercased()
        guard origin != nil || fetchSite != nil else { return nil }
        let host = head.headers["host"] ?? ""
        if !authConfigured, !isAddressLiteralOrLocalhost(host) {
            return forbidden("a browser must reach the admin listener by its IP address or localhost, or the listener needs admin.auth")
        }
        if head.method == "GET" || head.method == "HEAD" { return nil }
        if let fetchSite, fetchSite != "same-origin" {
            return forbidden("cross-site request refused")
        }
        if let origin, origin.lowercased() != "http://\(host.lowercased())", origin.lowercased() != "https://\(host.lowercased())" {
            return forbidden("cross-origin request refused")
        }
        guard let presented = head.headers[tokenHeader], !token.isEmpty, presented == token else {
            return forbidden("the console's CSRF token is missing or wrong; reload the page")
        }
        return nil
    }

    /// `127.0.0.1:9901`, `[::1]:9901`, `localhost:9901`, `10.0.0.5` ...: an IP literal or localhost, port optional.
    static func isAddressLiteralOrLocalhost(_ host: String) -> Bool {
        var name = Substring(host.lowercased())
        if name.hasPrefix("[") {
            guard let close = name.firstIndex(of: "]") else { return false }
            let rest = name[name.index(after: close)...]
            return rest.isEmpty || (rest.first == ":" && rest.dropFirst().allSatisfy(\.isNumber))
        }
        if let colon = name.lastIndex(of: ":") {
            guard name[name.index(after: colon)...].allSatisfy(\.isNumber) else { return false }
            name = name[..<colon]
        }
        if name == "localhost" { return true }
        let parts = name.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts.allSatisfy { p in !p.isEmpty && p.count <= 3 && p.allSatisfy(\.isNumber) && Int(p)! <= 255 }
    }

    private static func forbidden(_ message: String) -> AdminResponse {
        AdminResponse(403, json: "{\"error\":{\"type\":\"forbidden\",\"message\":\(JSONText.quoted(message))}}\n")
    }
}
