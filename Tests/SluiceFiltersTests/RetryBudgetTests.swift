import SluiceFilters
import Testing

/// `RetryBudget`: retries in flight stay under a share of the requests in flight.
struct RetryBudgetTests {
    private typealias Limits = RetryBudget.Limits

    @Test func refusesRetriesOnceTheShareIsUsedUp() {
        var budget = RetryBudget()
        let limits = Limits(ratio: 0.2, minimum: 0)
        for _ in 0..<10 { budget.requestStarted() }
        #expect(budget.allowance(limits) == 2)
        let first = budget.acquireRetry(within: limits)
        let second = budget.acquireRetry(within: limits)
        let third = budget.acquireRetry(within: limits)
        #expect(first && second)
        #expect(!third)
        #expect(budget.retrying == 2)
    }

    @Test func theMinimumAllowsRetriesOnAQuietProxy() {
        var budget = RetryBudget()
        let limits = Limits(ratio: 0.1, minimum: 2)
        budget.requestStarted()
        budget.requestStarted()
        let granted = [budget.acquireRetry(within: limits), budget.acquireRetry(within: limits), budget.acquireRetry(within: limits)]
        #expect(granted == [true, true, false])
    }

    @Test func aZeroBudgetNeverRetries() {
        var budget = RetryBudget()
        for _ in 0..<100 { budget.requestStarted() }
        let granted = budget.acquireRetry(within: Limits(ratio: 0, minimum: 0))
        #expect(!granted)
        #expect(budget.retrying == 0)
    }

    @Test func endingARetryingRequestFreesItsPlace() {
        var budget = RetryBudget()
        let limits = Limits(ratio: 0, minimum: 1)
        budget.requestStarted()
        budget.requestStarted()
        let first = budget.acquireRetry(within: limits)
        let refused = budget.acquireRetry(within: limits)
        #expect(first && !refused)
        budget.requestEnded(heldRetry: true)
        #expect(budget.active == 1 && budget.retrying == 0)
        let again = budget.acquireRetry(within: limits)
        #expect(again)
    }

    @Test func aGrowingLoadGrowsTheAllowanceAndCountsNeverGoNegative() {
        var budget = RetryBudget()
        let limits = Limits(ratio: 0.5, minimum: 0)
        budget.requestStarted()
        let refused = budget.acquireRetry(within: limits)  // ⌊0.5 × 1⌋ = 0
        #expect(!refused)
        budget.requestStarted()
        let granted = budget.acquireRetry(within: limits)  // ⌊0.5 × 2⌋ = 1
        #expect(granted)
        budget.requestEnded(heldRetry: true)
        budget.requestEnded(heldRetry: false)
        budget.requestEnded(heldRetry: true)
        #expect(budget == RetryBudget())
    }
}
