/// How an upstream group picks an endpoint for a new request (`balance`).
public enum BalancePolicy: String, Sendable, CaseIterable {
    /// Each endpoint in turn. The default.
    case roundRobin = "round_robin"
    /// The endpoint with the fewest requests in flight; suits long streaming responses, whose
    /// lengths vary too much for turns to spread load evenly.
    case leastActive = "least_active"
}
