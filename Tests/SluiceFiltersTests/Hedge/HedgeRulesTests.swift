import SluiceConfig
import SluiceFilterAPI
import SluiceFilters
import Testing

/// The pure parts of `hedge`: its budget, the first-token quantiles `after: p95` reads, the delay,
/// and its config errors with their positions.
@Suite struct HedgeRulesTests {
    @Test func theBudgetAllowsTheMinimumThenTheShare() {
        var budget = ShareBudget()
        let limits = ShareBudget.Limits(ratio: 0.1, minimum: 1)
        for _ in 0..<30 { budget.requestStarted() }
        // ⌊0.1 × 30⌋ = 3 places.
        let granted = (0..<4).map { _ in budget.acquire(within: limits) }
        #expect(granted == [true, true, true, false])
        budget.release(2)
        #expect(budget.held == 1)
        let again = budget.acquire(within: limits)
        #expect(again)
        budget.release(10)
        #expect(budget.held == 0)
        var quiet = ShareBudget()
        quiet.requestStarted()
        let quietGrants = (0..<2).map { _ in quiet.acquire(within: limits) }
        #expect(quietGrants == [true, false])
        var none = ShareBudget()
        none.requestStarted()
        let refused = none.acquire(within: ShareBudget.Limits(ratio: 0, minimum: 0))
        #expect(!refused)
    }

    @Test func quantilesAreReadWithinAQuarter() {
        var q = FirstTokenQuantiles()
        for i in 1...100 { q.record(.milliseconds(i * 10)) }
        let p95 = q.quantile(0.95)!
        #expect(p95 >= .milliseconds(950) && p95 <= .milliseconds(950 * 5 / 4), "\(p95)")
        let p50 = q.quantile(0.5)!
        #expect(p50 >= .milliseconds(500) && p50 <= .milliseconds(625), "\(p50)")
        #expect(FirstTokenQuantiles().quantile(0.95) == nil)
    }

    @Test func oldSamplesFade() {
        var q = FirstTokenQuantiles(window: 100)
        for _ in 0..<1000 { q.record(.seconds(2)) }
        for _ in 0..<1000 { q.record(.milliseconds(50)) }
        // After ten windows of fast samples, the slow ones are halved away.
        #expect(q.quantile(0.95)! <= .milliseconds(63))
    }

    @Test func theExpectedExcessCountsOnlyLongerTimes() {
        var q = FirstTokenQuantiles()
        for _ in 0..<50 { q.record(.milliseconds(100)) }
        for _ in 0..<50 { q.record(.seconds(2)) }
        let excess = q.expectedExcess(over: .milliseconds(500))!
        #expect(excess > .milliseconds(1200) && excess < .milliseconds(1800), "\(excess)")
        #expect(q.expectedExcess(over: .seconds(10)) == nil)
    }

    @Test func p95IsKeptBetweenTheFloorAndTheCeiling() {
        let delay = HedgeDelay.p95(floor: .milliseconds(100), ceiling: .seconds(1))
        var q = FirstTokenQuantiles()
        #expect(delay.delay(nil) == .seconds(1))
        for _ in 0..<(HedgeDelay.minimumSamples - 1) { q.record(.milliseconds(10)) }
        #expect(delay.delay(q) == .seconds(1))
        q.record(.milliseconds(10))
        #expect(delay.delay(q) == .milliseconds(100))
        var slow = FirstTokenQuantiles()
        for _ in 0..<50 { slow.record(.seconds(5)) }
        #expect(delay.delay(slow) == .seconds(1))
        var middle = FirstTokenQuantiles()
        for _ in 0..<50 { middle.record(.milliseconds(300)) }
        #expect(delay.delay(middle) >= .milliseconds(300) && delay.delay(middle) < .milliseconds(400))
    }

    private func make(_ yaml: String) throws -> (filter: HedgeFilter, errors: [String]) {
        let node = try YAMLLoader.load(text: yaml, path: "hedge.yaml")
        let diagnostics = ConfigDiagnostics()
        let config = ConfigMap(node, diagnostics: diagnostics, context: "filter 'hedge'")
        let filter = HedgeFilter(FilterSetup(type: "hedge", name: "hedge", chain: "main", config: config, previous: nil,
                                             clock: SystemClock(), workers: 1))
        config.finish()
        return (filter, diagnostics.sortedErrors.map(\.description))
    }

    @Test func defaults() throws {
        let (filter, errors) = try make("{}")
        #expect(errors.isEmpty)
        #expect(filter.delay == .p95(floor: .milliseconds(50), ceiling: .seconds(2)))
        #expect(filter.maxExtra == 1)
        #expect(filter.methods == ["POST"])
        #expect(filter.paths.isEmpty)
        #expect(filter.budgetLimits == ShareBudget.Limits(ratio: 0.1, minimum: 1))
    }

    @Test func configErrorsAreReportedWithPositions() throws {
        #expect(try make("after: soon").errors == ["hedge.yaml:1:8: 'after' must be a duration such as 300ms or 1.5s, or p95, got soon"])
        #expect(try make("after: 20m").errors == ["hedge.yaml:1:8: 'after' must be from 1ms to 10m, got 20m"])
        #expect(try make("after: 300ms\nafter_min: 10ms").errors == ["hedge.yaml:2:12: after_min and after_max apply only with after: p95"])
        #expect(try make("after_min: 2s\nafter_max: 1s").errors
                == ["hedge.yaml:2:12: after_max must not be shorter than after_min (2s)"])
        #expect(try make("max_extra: 4").errors.first?.hasPrefix("hedge.yaml:1:12: 'max_extra' must be between 1 and 3") == true)
        #expect(try make("paths: [v1]").errors == ["hedge.yaml:1:8: 'paths' items must start with /, got v1"])
        #expect(try make("max_extar: 2").errors.first?.contains("unknown key 'max_extar' (did you mean 'max_extra'?)") == true)
    }
}
