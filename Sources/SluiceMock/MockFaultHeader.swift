/// The request headers that ask the mock backend for a fault or a timing override.
///
/// The names are a public contract: tests and users put them on requests sent through the
/// proxy. See `MockFaults` for what each one does.
public enum MockFaultHeader: String, Sendable, CaseIterable {
    case status = "x-mock-status"
    case retryAfter = "x-mock-retry-after"
    case headDelay = "x-mock-head-delay"
    case stallAfter = "x-mock-stall-after"
    case resetAfter = "x-mock-reset-after"
    case closeAfter = "x-mock-close-after"
    case malformedAfter = "x-mock-malformed-after"
    case trickle = "x-mock-trickle"
    case errorEvent = "x-mock-error-event"
    case endAfter = "x-mock-end-after"
    case framing = "x-mock-framing"
    case timeToFirstToken = "x-mock-ttft"
    case tokensPerSecond = "x-mock-tps"
    case tokens = "x-mock-tokens"

    /// The header name, lowercase, as it should be sent.
    public var name: String { rawValue }
}
