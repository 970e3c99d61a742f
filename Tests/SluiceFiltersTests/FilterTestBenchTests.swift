import SluiceFilters
import SluiceTesting
import Testing

/// `FilterTestBench`: a filter built from config text and its hooks called without a proxy.
@Suite struct FilterTestBenchTests {
    @Test func aTokenBucketAdmitsUpToItsCapacityPerClientOnAManualClock() throws {
        let clock = ManualClock()
        let filter = try FilterTestBench.makeFilter(
            "token_bucket", config: "{ capacity: 1, refill_per_second: 1 }", registry: BuiltinFilters.registry(), clock: clock)
        func admitted(_ address: String) -> Bool {
            if case .next = filter.onRequest(FilterTestBench.makeExchange(clientAddress: address, clock: clock)) { return true }
            return false
        }
        #expect(admitted("10.0.0.1"))
        #expect(!admitted("10.0.0.1"))
        #expect(admitted("10.0.0.2"))
        clock.advance(by: .seconds(1))
        #expect(admitted("10.0.0.1"))
    }

    @Test func configProblemsAreThrownWithPositions() {
        let error = #expect(throws: FilterFileErrors.self) {
            try FilterTestBench.makeFilter("token_bucket", config: "{ capacity: -1, refil_per_second: 1 }",
                                           registry: BuiltinFilters.registry())
        }
        let lines = error?.errors.map(\.description) ?? []
        #expect(lines.contains { $0.hasPrefix("config.yaml:1:13: ") }, "\(lines)")
        #expect(lines.contains { $0.hasPrefix("config.yaml:1:17: unknown key 'refil_per_second'") }, "\(lines)")
    }
}
