import SluiceFilters
import SluiceTesting
import Testing

/// `token_bucket` on a manual clock: refusals carry their headers, and the bucket refills with time.
@Suite struct TokenBucketVirtualTimeTests {
    /// Makes a bucket from `config`, and answers a function that sends one request through it.
    private func requests(through config: String, clock: ManualClock) throws -> () -> EmbeddedExchange {
        let filter = try FilterTestBench.makeFilter("token_bucket", config: config, registry: BuiltinFilters.registry(), clock: clock)
        return {
            let embedded = EmbeddedExchange(filter, name: "token_bucket", clock: clock)
            embedded.request()
            return embedded
        }
    }

    @Test func aRefusedRequestIsA429AndTheBucketRefillsWithTheClock() throws {
        let clock = ManualClock()
        let request = try requests(through: "{ capacity: 2, refill_per_second: 1 }", clock: clock)
        #expect(request().outcome == nil)
        #expect(request().outcome == nil)
        let refused = request()
        #expect(refused.outcome?.kind == .rejected)
        #expect(refused.outcome?.status == 429)
        #expect(refused.outcome?.decidedBy == "token_bucket")
        clock.advance(by: .milliseconds(999))
        #expect(request().outcome?.status == 429)
        clock.advance(by: .milliseconds(1))
        #expect(request().outcome == nil)
        #expect(request().outcome?.status == 429)
    }

    @Test func aRefusalSaysWhenToComeBackAndARefilledRequestSeesWhatIsLeft() throws {
        let clock = ManualClock()
        let request = try requests(through: "{ capacity: 1, refill_per_second: 1 }", clock: clock)
        func remaining(_ embedded: EmbeddedExchange) -> String? {
            embedded.exchange.responseHeaders.last { $0.0.lowercased() == "ratelimit-remaining" }?.1
        }
        #expect(request().outcome == nil)
        let refused = request()
        #expect(refused.outcome?.status == 429)
        #expect(refused.outcome?.error?.kind == .rateLimited)
        #expect(refused.outcome?.error?.retryAfterSeconds == 1)
        clock.advance(by: .milliseconds(500))
        #expect(request().outcome?.status == 429)
        clock.advance(by: .milliseconds(500))
        let refilled = request()
        #expect(refilled.outcome == nil)
        #expect(remaining(refilled) == "0")
    }
}
