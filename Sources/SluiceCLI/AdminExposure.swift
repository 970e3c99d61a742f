import SluiceConfig

/// The warning `check` and `run` give when the admin listener is reachable from other machines: it can
/// reload the chain and lists every live stream, so it belongs on loopback or behind `admin.auth`.
enum AdminExposure {
    /// The warning for an admin listener on `host`, or nil when it is on loopback.
    static func warning(host: String, auth: AdminAuthSpec?) -> String? {
        guard !AdminSpec.isLoopback(host) else { return nil }
        let base = "the admin listener binds \(host), not loopback"
        return auth == nil
            ? "\(base), and has no auth: anyone who reaches it can reload the chain and read every live stream; add admin.auth or bind 127.0.0.1"
            : "\(base); admin.auth protects it, but keep it off public networks"
    }
}
