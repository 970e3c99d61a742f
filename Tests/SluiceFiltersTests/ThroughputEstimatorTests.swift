import SluiceFilterAPI
import SluiceFilters
import Testing

/// `ThroughputEstimator` on a `ManualClock`: streams are fed events at known rates.
struct ThroughputEstimatorTests {
    private let clock = ManualClock()

    /// Feeds `streams` (id → units per second) one unit at a time, each at its own pace, for `duration`.
    private func feed(_ estimator: inout ThroughputEstimator, _ streams: [UInt64: Double], for duration: Duration) {
        let step = Duration.milliseconds(1)
        let start = clock.now()
        var due: [UInt64: MonotonicInstant] = streams.mapValues { _ in start }
        while clock.now().since(start) < duration {
            for (id, rate) in streams where due[id]! <= clock.now() {
                estimator.record(id, units: 1, at: clock.now())
                due[id] = due[id]! + .nanoseconds(Int64(1e9 / rate))
            }
            clock.advance(by: step)
        }
    }

    private func near(_ value: Double, _ expected: Double, within fraction: Double) -> Bool {
        abs(value - expected) <= expected * fraction
    }

    @Test func aStreamCountsAtItsPaceFromItsSecondUnit() {
        var e = ThroughputEstimator(window: .seconds(1))
        e.streamStarted(1, at: clock.now())
        #expect(e.pendingStreams == 1)
        e.record(1, units: 1, at: clock.now())
        // One unit is a point in time, not a rate.
        #expect(e.rate(at: clock.now()) == 0)
        #expect(e.measuredStreams == 0)
        clock.advance(by: .milliseconds(20))
        e.record(1, units: 1, at: clock.now())
        #expect(e.measuredStreams == 1 && e.pendingStreams == 0)
        #expect(near(e.rate(at: clock.now()), 50, within: 0.05), "\(e.rate(at: clock.now()))")
        // Well inside the first window the young-stream correction keeps it at its pace.
        feed(&e, [1: 50], for: .milliseconds(300))
        #expect(near(e.rate(at: clock.now()), 50, within: 0.1), "\(e.rate(at: clock.now()))")
        feed(&e, [1: 50], for: .seconds(5))
        #expect(near(e.rate(at: clock.now()), 50, within: 0.05), "\(e.rate(at: clock.now()))")
    }

    @Test func liveStreamsAddUpAndAnEndedOneLeavesAtOnce() {
        var e = ThroughputEstimator(window: .seconds(1))
        e.streamStarted(1, at: clock.now())
        e.streamStarted(2, at: clock.now())
        feed(&e, [1: 50, 2: 30], for: .seconds(6))
        #expect(e.liveStreams == 2)
        #expect(near(e.rate(at: clock.now()), 80, within: 0.05), "\(e.rate(at: clock.now()))")
        #expect(near(e.meanStreamRate(at: clock.now()) ?? 0, 40, within: 0.05))
        e.streamEnded(1, at: clock.now())
        #expect(e.liveStreams == 1)
        #expect(near(e.rate(at: clock.now()), 30, within: 0.05), "\(e.rate(at: clock.now()))")
        e.streamEnded(2, at: clock.now())
        #expect(e.rate(at: clock.now()) == 0)
        #expect(e.meanStreamRate(at: clock.now()) == nil)
    }

    @Test func silenceFadesWithTheWindow() {
        var e = ThroughputEstimator(window: .seconds(1))
        e.streamStarted(1, at: clock.now())
        feed(&e, [1: 40], for: .seconds(6))
        let before = e.rate(at: clock.now())
        #expect(near(before, 40, within: 0.05))
        clock.advance(by: .seconds(1))
        #expect(near(e.rate(at: clock.now()), before * 0.3679, within: 0.02), "\(e.rate(at: clock.now()))")
        clock.advance(by: .seconds(9))
        #expect(e.rate(at: clock.now()) < 0.01)
    }

    @Test func pendingStreamsAreProjectedAtTheMeanMeasuredRate() {
        var e = ThroughputEstimator(window: .seconds(1))
        // Nothing measured: pending streams count nothing (there is no mean to count them at).
        e.streamStarted(1, at: clock.now())
        e.streamStarted(2, at: clock.now())
        #expect(e.projectedRate(at: clock.now()) == 0)
        feed(&e, [1: 40, 2: 40], for: .seconds(6))
        for id: UInt64 in 3...5 { e.streamStarted(id, at: clock.now()) }
        #expect(e.pendingStreams == 3 && e.measuredStreams == 2)
        #expect(near(e.projectedRate(at: clock.now()), 200, within: 0.05), "\(e.projectedRate(at: clock.now()))")
        // A pending stream that ends was never in the measured total.
        e.streamEnded(3, at: clock.now())
        #expect(near(e.projectedRate(at: clock.now()), 160, within: 0.05))
        #expect(near(e.rate(at: clock.now()), 80, within: 0.05))
    }

    @Test func unitsInBatchesGiveTheSameRate() {
        // The filter hands units over every 50 ms or so, not one by one.
        var e = ThroughputEstimator(window: .seconds(1))
        e.streamStarted(7, at: clock.now())
        e.record(7, units: 1, at: clock.now())
        for _ in 0..<100 {
            clock.advance(by: .milliseconds(50))
            e.record(7, units: 6, at: clock.now())  // 120 per second
        }
        #expect(near(e.rate(at: clock.now()), 120, within: 0.05), "\(e.rate(at: clock.now()))")
    }

    @Test func unknownStreamsAndEmptyCountsAreIgnored() {
        var e = ThroughputEstimator()
        e.record(9, units: 5, at: clock.now())
        e.streamEnded(9, at: clock.now())
        #expect(e.liveStreams == 0)
        e.streamStarted(1, at: clock.now())
        e.streamStarted(1, at: clock.now())
        #expect(e.liveStreams == 1)
        e.record(1, units: 0, at: clock.now())
        e.record(1, units: -3, at: clock.now())
        #expect(e.pendingStreams == 1)
        #expect(e.rate(at: clock.now()) == 0)
    }
}
