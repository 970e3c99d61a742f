/// Why a mock settings string (the `sluice mock` query or an `x-mock-*` override) was refused.
///
/// `message` names the offending key and says what was expected, so it can be shown to a user
/// as is (for example `tps: expected a positive number, got "fast"`).
public struct MockSettingsError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A one-line explanation naming the key and the expected form.
    public var message: String

    /// An error with this message.
    public init(_ message: String) {
        self.message = message
    }

    /// The message.
    public var description: String { message }
}
