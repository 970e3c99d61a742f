import SluiceFilters
import SluiceTesting
import Testing

/// When `token_bucket` charges, as the README documents it: every filter's `onRequest` runs before
/// any `onRequestBody`, so with `charge: request` (the default) a request that a filter refuses for
/// its body has been charged, wherever that filter sits in the chain; with `charge: body`, and in
/// `mode: tokens`, the charge is in `onRequestBody`, in chain order, so a body check listed before
/// the bucket refuses first and nothing is charged.
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

    @Test(arguments: [false, true])
    func withChargeBodyTheChargeFollowsTheChainOrder(_ checkFirst: Bool) throws {
        let clock = ManualClock()
        let bucket = try bucket("{ capacity: 1, refill_per_second: 0, charge: body }", clock: clock)
        #expect(bucket.requestBodyLimit != nil)
        let filters: [any Filter] = checkFirst ? [BodyCheck(), bucket] : [bucket, BodyCheck()]
        let names = checkFirst ? ["body_check", "token_bucket"] : ["token_bucket", "body_check"]
        let deciders = (0..<2).map { _ -> String? in
            let refused = EmbeddedExchange(filters: filters, names: names, clock: clock, body: Self.refusedBody)
            refused.request()
            return refused.outcome?.decidedBy
        }
        // After the bucket, the body check refuses a request the bucket charged; the next finds it empty.
        #expect(deciders == (checkFirst ? ["body_check", "body_check"] : ["body_check", "token_bucket"]))
        let fine = EmbeddedExchange(filters: filters, names: names, clock: clock, body: Self.fineBody)
        fine.request()
        // Listed first, the body check spared the bucket; listed after it, the first refused request took the one token.
        #expect(fine.outcome?.status == (checkFirst ? nil : 429))
        #expect(fine.exchange.responseHeaders.contains { $0.0.lowercased() == "ratelimit-limit" })
    }

    @Test func chargeAppliesToRequestsModeOnly() {
        #expect(throws: (any Error).self) {
            try FilterTestBench.makeFilter("token_bucket", config: "{ mode: tokens, capacity: 10, refill_per_second: 1, charge: body }",
                                           registry: BuiltinFilters.registry())
        }
        #expect(throws: (any Error).self) {
            try FilterTestBench.makeFilter("token_bucket", config: "{ capacity: 10, refill_per_second: 1, charge: later }",
                                           registry: BuiltinFilters.registry())
        }
    }
}
