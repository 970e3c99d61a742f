/// A fault header whose value could not be read. The mock answers the request with
/// `400 Bad Request` and this error's `description` as the JSON error message.
public struct MockFaultError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The header that was refused.
    public var header: MockFaultHeader
    /// What was wrong with its value.
    public var message: String

    /// A problem with the value of `header`.
    public init(header: MockFaultHeader, message: String) {
        self.header = header
        self.message = message
    }

    /// `<header name>: <message>`, e.g. `x-mock-tps: expected a number greater than 0 ..., got "fast"`.
    public var description: String { "\(header.name): \(message)" }
}
