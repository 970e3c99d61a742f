/// A timed script for one response, produced by `MockPlanner` and run by the mock server.
///
/// `steps` always ends with exactly one of `.end`, `.close`, `.reset` or `.stall`, and that
/// step is the only one of the four in the plan.
public struct MockPlan: Sendable, Equatable {
    /// What to do, in order.
    public var steps: [MockStep]
    /// True when the connection may carry another request after this plan's `.end`: the
    /// request allowed it, and the response is neither cut short nor close-delimited.
    /// Always false when the plan ends with `.close`, `.reset` or `.stall`.
    public var keepAlive: Bool

    /// A plan from its steps.
    public init(steps: [MockStep], keepAlive: Bool) {
        self.steps = steps
        self.keepAlive = keepAlive
    }
}
