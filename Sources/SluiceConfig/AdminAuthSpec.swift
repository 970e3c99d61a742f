/// `admin.auth`: the credentials the admin listener asks for, resolved from the file, an environment
/// variable or a file when the filter file is loaded (so a reload picks up a rotated secret):
///
/// ```yaml
/// admin:
///   address: 127.0.0.1:9901
///   auth:
///     bearer_token_env: SLUICE_ADMIN_TOKEN    # or bearer_token_file: PATH, or bearer_token: TEXT
///     # or basic auth: username: ops, password_env / password_file / password
///     open_paths: [/healthz, /readyz]         # answered without credentials (the default)
/// ```
public struct AdminAuthSpec: Sendable {
    /// What a request must present.
    public enum Credential: Sendable, Equatable {
        /// `Authorization: Bearer TOKEN`.
        case bearer(token: String)
        /// `Authorization: Basic base64(username:password)`.
        case basic(username: String, password: String)
    }

    public var credential: Credential
    /// Exact paths answered without credentials, so that probes and scrapers that cannot carry a
    /// secret keep working. `/healthz` and `/readyz` unless the file says otherwise.
    public var openPaths: [String]

    public static let defaultOpenPaths = ["/healthz", "/readyz"]

    public init(credential: Credential, openPaths: [String] = AdminAuthSpec.defaultOpenPaths) {
        self.credential = credential
        self.openPaths = openPaths
    }
}
