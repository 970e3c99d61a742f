import SluiceFilters
import SluiceTesting
import Testing

/// `backpressure` on virtual time: the slow-client cut and its reprieve.
@Suite struct BackpressureVirtualTimeTests {
    private func embedded() throws -> (EmbeddedExchange, BackpressureFilter) {
        let clock = ManualClock()
        let filter = try FilterTestBench.makeFilter("backpressure", config: "{ high_watermark: 64KiB, slow_client_timeout: 2s }",
                                                    registry: BuiltinFilters.registry(), clock: clock)
        let embedded = EmbeddedExchange(filter, name: "backpressure", clock: clock)
        #expect(embedded.request() == .next)
        embedded.startAttempt()
        embedded.upstreamConnected()
        embedded.responseHead()
        return (embedded, try #require(filter as? BackpressureFilter))
    }

    @Test func aClientBlockedPastTheTimeoutIsCutWithASlowClientError() throws {
        let (embedded, filter) = try embedded()
        #expect(embedded.exchange.clientHighWatermark == 64 * 1024)
        embedded.clientBlocks()
        embedded.advanceTime(by: .milliseconds(1999))
        #expect(!embedded.isEnded)
        embedded.advanceTime(by: .milliseconds(1))
        #expect(embedded.outcome?.kind == .truncated)
        #expect(embedded.outcome?.error?.kind == .slowClient)
        #expect(filter.statistics.slowClientsCut == 1)
        #expect(filter.statistics.pausedTime == .seconds(2))
    }

    @Test func aClientThatDrainsInTimeIsNotCut() throws {
        let (embedded, filter) = try embedded()
        for _ in 0..<3 {
            embedded.clientBlocks()
            embedded.advanceTime(by: .milliseconds(1500))
            embedded.clientDrains()
        }
        embedded.advanceTime(by: .seconds(10))
        #expect(!embedded.isEnded)
        #expect(filter.statistics.pauses == 3)
        embedded.upstreamEnds()
        #expect(embedded.outcome?.kind == .completed)
        #expect(filter.statistics.pausedTime == .milliseconds(4500))
    }
}
