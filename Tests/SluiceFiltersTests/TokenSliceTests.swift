import SluiceFilterAPI
@testable import SluiceFilters
import Testing

/// The slice of a shared bucket an instance holds in batch mode, without Redis or sleeping: every
/// call takes an instant, moved by hand.
struct TokenSliceTests {
    let t0 = MonotonicInstant(nanoseconds: 1_000_000_000)
    let hold: Duration = .seconds(1)

    @Test func anEmptySliceAnswersNothingAndAsksForABatch() {
        var slice = TokenSlice()
        #expect(!slice.canTake(1, now: t0))
        let r1 = slice.take(1, now: t0)
        #expect(!r1)
        // A take that misses asks for the whole batch besides its own need, once.
        let r2 = slice.extra(batch: 10)
        #expect(r2 == 10)
        let r3 = slice.extra(batch: 10)
        #expect(r3 == 0)
        slice.receive(10, askedFor: 10, prefetch: false, now: t0, hold: hold)
        #expect(slice.held == 10 && slice.asked == 0)
    }

    @Test func spendsLocallyAndNeverMoreThanItReceived() {
        var slice = TokenSlice()
        _ = slice.extra(batch: 5)
        slice.receive(5, askedFor: 5, prefetch: false, now: t0, hold: hold)
        var spent = 0
        for _ in 0..<20 where slice.take(1, now: t0) { spent += 1 }
        #expect(spent == 5)
        let r4 = slice.take(2, now: t0)
        #expect(!r4)
        // A grant smaller than asked (the bucket had less) is all there is.
        _ = slice.extra(batch: 5)
        slice.receive(2, askedFor: 5, prefetch: false, now: t0, hold: hold)
        let r5 = slice.take(3, now: t0)
        #expect(!r5)
        let r6 = slice.take(2, now: t0)
        #expect(r6)
    }

    @Test func prefetchesOnceAQuarterIsLeftAndOnlyOnceAtATime() {
        var slice = TokenSlice()
        _ = slice.extra(batch: 8)
        slice.receive(8, askedFor: 8, prefetch: false, now: t0, hold: hold)
        for _ in 0..<5 { let took = slice.take(1, now: t0); #expect(took) }
        let r7 = slice.prefetch(batch: 8)
        #expect(r7 == nil)  // 3 left: more than a quarter
        let r8 = slice.take(1, now: t0)
        #expect(r8)
        let r9 = slice.prefetch(batch: 8)
        #expect(r9 == 6)  // 2 left: asks for what brings it back to 8
        let r10 = slice.take(1, now: t0)
        #expect(r10)
        let r11 = slice.prefetch(batch: 8)
        #expect(r11 == nil)  // one on its way
        slice.receive(6, askedFor: 6, prefetch: true, now: t0 + .milliseconds(10), hold: hold)
        #expect(slice.held == 7)
        // Held plus asked never goes past the batch.
        let r12 = slice.extra(batch: 8)
        #expect(r12 == 1)
    }

    @Test func unspentTokensAgeOutAfterHoldAndGoBack() {
        var slice = TokenSlice()
        _ = slice.extra(batch: 10)
        slice.receive(10, askedFor: 10, prefetch: false, now: t0, hold: hold)
        let r13 = slice.take(4, now: t0 + .milliseconds(500))
        #expect(r13)
        let r14 = slice.ageOut(now: t0 + .milliseconds(999))
        #expect(r14 == 0)
        // At the expiry the rest goes back, and nothing more can be spent from it.
        let r15 = slice.ageOut(now: t0 + hold)
        #expect(r15 == 6)
        #expect(!slice.canTake(1, now: t0 + hold))
        let r16 = slice.ageOut(now: t0 + .seconds(5))
        #expect(r16 == 0)
        #expect(slice.isIdle)
    }

    @Test func aLaterGrantPushesTheExpiry() {
        var slice = TokenSlice()
        _ = slice.extra(batch: 4)
        slice.receive(4, askedFor: 4, prefetch: false, now: t0, hold: hold)
        _ = slice.extra(batch: 8)
        slice.receive(4, askedFor: 4, prefetch: false, now: t0 + .milliseconds(800), hold: hold)
        let r17 = slice.ageOut(now: t0 + hold)
        #expect(r17 == 0)
        let r18 = slice.take(8, now: t0 + .milliseconds(1500))
        #expect(r18)
    }

    @Test func tokensAreNeverSpentAfterTheSliceAgedOutEvenWithoutTheTimer() {
        var slice = TokenSlice()
        _ = slice.extra(batch: 3)
        slice.receive(3, askedFor: 3, prefetch: false, now: t0, hold: hold)
        // The give-back has not run yet, but the tokens are already on their way back.
        let r19 = slice.take(1, now: t0 + hold)
        #expect(!r19)
        // A new grant after expiry does not revive what aged out: it is given back whole.
        _ = slice.extra(batch: 3)
        slice.receive(1, askedFor: 3, prefetch: false, now: t0 + .seconds(2), hold: hold)
        #expect(slice.held == 1)
    }

    @Test func settlementsUseTheSliceWhileItIsLiveAndTheRestGoesToRedis() {
        var slice = TokenSlice()
        _ = slice.extra(batch: 100)
        slice.receive(60, askedFor: 100, prefetch: false, now: t0, hold: hold)
        // A refund fills the slice up to the batch; the rest is refunded in Redis.
        let r20 = slice.refund(30, batch: 100, now: t0)
        #expect(r20 == 0)
        let r21 = slice.refund(30, batch: 100, now: t0)
        #expect(r21 == 20)
        #expect(slice.held == 100)
        // A charge beyond the reservation comes from the slice as far as it holds it.
        let r22 = slice.charge(70, now: t0)
        #expect(r22 == 0)
        let r23 = slice.charge(50, now: t0)
        #expect(r23 == 20)
        #expect(slice.held == 0)
        // Once aged out, everything is settled in Redis.
        let r24 = slice.refund(5, batch: 100, now: t0 + hold)
        #expect(r24 == 5)
        let r25 = slice.charge(5, now: t0 + hold)
        #expect(r25 == 5)
    }
}

extension TokenSliceTests {
    @Test func aTakeThatMissesAsksForWhatBringsItAndTheSliceToTheBatch() {
        var slice = TokenSlice()
        let extra = slice.extra(batch: 10, besides: 3)
        #expect(extra == 7)
        slice.receive(7, askedFor: 7, prefetch: false, now: t0, hold: hold)
        // The take's refund then fits within the batch.
        let rest = slice.refund(3, batch: 10, now: t0)
        #expect(rest == 0 && slice.held == 10)
        // A take larger than the batch asks for nothing more.
        var big = TokenSlice()
        let none = big.extra(batch: 10, besides: 50)
        #expect(none == 0)
    }
}
