import SluiceFilters
import SluiceTesting
import Testing

/// When `token_bucket` charges, as the README documents it: every filter's `onRequest` runs before
/// any `onRequestBody`, so in `mode: requests` a request that a filter refuses for its body has
/// been charged, wherever that filter sits in the chain; in `mode: tokens` the charge is in
/// `onRequestBody`, in chain order, so a body check listed before the bucket refuses first and
/// nothing is charged.
@Suite struct TokenBucketChargeOrderTests {
    /// Reads the body, and refuses a request whose body holds "forbidden".
    final class BodyCheck: Filter {
        var requestBodyLimit: Int? { 64 * 1024 }
        func onRequestBody(_ exchange: Exchange) -> Decision {
            let body = String(decoding: exchange.requestBody ?? [], as: UTF8.self)
            return body.contains("forbidden") ? .reject(ProxyError(.badRequest, "forbidden content")) : .next
        }
    }

    private static let refusedBody = Array(#"{"model":"m","messages":[{"role":"user","content":"forbidden"}]}"#.utf8)
    private static let fineBody = Array(#"{"model":"m","messages":[{"role":"user","content":"fine"}]}"#.utf8)

    private func bucket(_ config: String, clock: ManualClock) throws -> any Filter {
        try FilterTestBench.makeFilter("token_bucket", config: config, registry: BuiltinFilters.registry(), clock: clock)
    }

    @Test(arguments: [false, true])
    func inRequestsModeARequestRefusedForItsBodyWasChargedWhateverTheOrder(_ checkFirst: Bool) throws {
        let clock = ManualClock()
        let bucket = try bucket("{ capacity: 1, refill_per_second: 0 }", clock: clock)
        let filters: [any Filter] = checkFirst ? [BodyCheck(), bucket] : [bucket, BodyCheck()]
        let names = checkFirst ? ["body_check", "token_bucket"] : ["token_bucket", "body_check"]
        let refused = EmbeddedExchange(filters: filters, names: names, clock: clock, body: Self.refusedBody)
        refused.request()
        #expect(refused.outcome?.status == 400)
        #expect(refused.outcome?.decidedBy == "body_check")
        // The one request the bucket held went to the refused one.
        let next = EmbeddedExchange(filters: filters, names: names, clock: clock, body: Self.fineBody)
        next.request()
        #expect(next.outcome?.status == 429)
        #expect(next.outcome?.decidedBy == "token_bucket")
    }

    @Test func inTokensModeABodyCheckListedFirstRefusesBeforeTheCharge() throws {
        let clock = ManualClock()
        let bucket = try bucket("{ mode: tokens, capacity: 200, refill_per_second: 0, default_max_tokens: 150 }", clock: clock)
        let filters: [any Filter] = [BodyCheck(), bucket]
        let names = ["body_check", "token_bucket"]
        for _ in 0..<3 {
            let refused = EmbeddedExchange(filters: filters, names: names, clock: clock, body: Self.refusedBody)
            refused.request()
            #expect(refused.outcome?.decidedBy == "body_check")
        }
        // Nothing was charged: the first fine request gets its reservation, the bucket then is short.
        let fine = EmbeddedExchange(filters: filters, names: names, clock: clock, body: Self.fineBody)
        #expect(fine.request() == .next)
        let second = EmbeddedExchange(filters: filters, names: names, clock: clock, body: Self.fineBody)
        second.request()
        #expect(second.outcome?.status == 429)
    }
}
