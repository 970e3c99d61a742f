/// The last reload's result, as the console shows it.
struct ReloadRecord: Sendable {
    /// Wall-clock time of the attempt, as the access log writes it.
    var at: String
    /// The version put in force, or nil when the reload failed.
    var version: Int?
    /// Every problem as `path:line:col: message` when it failed.
    var errors: [String]
}
