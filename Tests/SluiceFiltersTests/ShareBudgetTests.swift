import SluiceFilters
import Testing

/// `ShareBudget`, as `retry` uses it: retries in flight stay under a share of the requests in flight.
struct ShareBudgetTests {
    private typealias Limits = ShareBudget.Limits

    @Test func refusesRetriesOnceTheShareIsUsedUp() {
        var budget = ShareBudget()
        let limits = Limits(ratio: 0.2, minimum: 0)
        for _ in 0..<10 { budget.requestStarted() }
        #expect(budget.allowance(limits) == 2)
        let first = budget.acquire(within: limits)
        let second = budget.acquire(within: limits)
        let third = budget.acquire(within: limits)
        #expect(first && second)
        #expect(!third)
        #expect(budget.held == 2)
    }

    @Test func theMinimumAllowsRetriesOnAQuietProxy() {
        var budget = ShareBudget()
        let limits = Limits(ratio: 0.1, minimum: 2)
        budget.requestStarted()
        budget.requestStarted()
        let granted = [budget.acquire(within: limits), budget.acquire(within: limits), budget.acquire(within: limits)]
        #expect(granted == [true, true, false])
    }

    @Test func aZeroBudgetNeverRetries() {
        var budget = ShareBudget()
        for _ in 0..<100 { budget.requestStarted() }
        let granted = budget.acquire(within: Limits(ratio: 0, minimum: 0))
        #expect(!granted)
        #expect(budget.held == 0)
    }

    @Test func endingARetryingRequestFreesItsPlace() {
        var budget = ShareBudget()
        let limits = Limits(ratio: 0, minimum: 1)
        budget.requestStarted()
        budget.requestStarted()
        let first = budget.acquire(within: limits)
        let refused = budget.acquire(within: limits)
        #expect(first && !refused)
        budget.release()
        budget.requestEnded()
        #expect(budget.active == 1 && budget.held == 0)
        let again = budget.acquire(within: limits)
        #expect(again)
    }

    @Test func aGrowingLoadGrowsTheAllowanceAndCountsNeverGoNegative() {
        var budget = ShareBudget()
        let limits = Limits(ratio: 0.5, minimum: 0)
        budget.requestStarted()
        let refused = budget.acquire(within: limits)  // ⌊0.5 × 1⌋ = 0
        #expect(!refused)
        budget.requestStarted()
        let granted = budget.acquire(within: limits)  // ⌊0.5 × 2⌋ = 1
        #expect(granted)
        budget.release()
        budget.requestEnded()
        budget.requestEnded()
        budget.release()
        budget.requestEnded()
        #expect(budget == ShareBudget())
    }
}
