import Foundation
import SluiceConfig
import SluiceHTTP

/// Decides whether an admin request carries the credentials `admin.auth` asks for. Pure: no clock, no I/O.
enum AdminAuthorization {
    /// Nil when `head` may be answered (no auth configured, an open path, or the right credentials);
    /// otherwise the 401 to send, with the challenge that tells a client which scheme to use.
    static func refusal(for head: HTTPRequestHead, path: String, auth: AdminAuthSpec?) -> AdminResponse? {
        guard let auth, !auth.openPaths.contains(path) else { return nil }
        let presented = head.headers["authorization"] ?? ""
        let challenge: String
        switch auth.credential {
        case .bearer(let token):
            if let given = value(of: presented, scheme: "Bearer"), sameBytes(given, token) { return nil }
            challenge = "Bearer realm=\"sluice-admin\""
        case .basic(let username, let password):
            if let encoded = value(of: presented, scheme: "Basic"),
               let decoded = Data(base64Encoded: encoded).map({ String(decoding: $0, as: UTF8.self) }),
               sameBytes(decoded, "\(username):\(password)") {
                return nil
            }
            challenge = "Basic realm=\"sluice-admin\", charset=\"UTF-8\""
        }
        var refusal = AdminResponse(401, json: "{\"error\":{\"type\":\"unauthorized\",\"message\":\"the admin listener needs credentials\"}}\n")
        refusal.headers.append(("www-authenticate", challenge))
        return refusal
    }

    /// The credentials after `scheme` (case-insensitive) and one or more spaces, or nil for another scheme.
    private static func value(of header: String, scheme: String) -> String? {
        guard header.count > scheme.count, header.prefix(scheme.count).lowercased() == scheme.lowercased(),
              header.dropFirst(scheme.count).first == " " else { return nil }
        return String(header.dropFirst(scheme.count).drop { $0 == " " })
    }

    /// Compares in time that depends on the lengths only, not on where the first difference is, so the
    /// answer's timing does not reveal a secret's prefix.
    private static func sameBytes(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        var difference = UInt8(x.count == y.count ? 0 : 1)
        for i in 0..<min(x.count, y.count) { difference |= x[i] ^ y[i] }
        return difference == 0
    }
}
