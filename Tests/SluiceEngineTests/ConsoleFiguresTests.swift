@testable import SluiceEngine
import Testing

/// The console's arithmetic, without a proxy: histogram quantiles over an interval, what one scrape
/// says per route and per filter, and the 15-minute history. Pure types, so no sockets here.
struct ConsoleFiguresTests {
    private func histogram(_ pairs: [(Double, Double)], sum: Double = 0) -> HistogramCounts {
        var h = HistogramCounts()
        for (le, count) in pairs { h.addBucket(le: le, count: count) }
        h.sum = sum
        h.count = pairs.map(\.1).max() ?? 0
        return h
    }

    @Test func quantilesInterpolateWithinTheirBucket() throws {
        // Buckets arrive in any order; they are kept sorted by bound.
        let h = histogram([(1, 40), (0.1, 10), (.infinity, 40), (0.5, 30)], sum: 12)
        #expect(h.bounds == [0.1, 0.5, 1, .infinity])
        #expect(h.cumulative == [10, 30, 40, 40])
        #expect(abs(try #require(h.quantile(0.5)) - 0.3) < 1e-9)          // rank 20: halfway through (0.1, 0.5]
        #expect(abs(try #require(h.quantile(0.99)) - 0.98) < 1e-9)        // rank 39.6 in (0.5, 1]
        #expect(abs(try #require(h.quantile(0.1)) - 0.04) < 1e-9)         // rank 4 of 10 in (0, 0.1]
        #expect(abs((h.mean ?? 0) - 0.3) < 1e-9)
        #expect(HistogramCounts().quantile(0.5) == nil)
        #expect(HistogramCounts().mean == nil)
        // What fell past the last finite bound reads as that bound.
        let tail = histogram([(0.1, 0), (1, 0), (.infinity, 5)])
        #expect(tail.quantile(0.5) == 1)
    }

    @Test func anIntervalIsTheLaterCountsMinusTheEarlier() {
        let earlier = histogram([(0.1, 10), (0.5, 30), (.infinity, 40)], sum: 8)
        let later = histogram([(0.1, 10), (0.5, 31), (.infinity, 50)], sum: 20)
        let between = later.since(earlier)
        #expect(between.cumulative == [0, 1, 10])
        #expect(between.count == 10)
        #expect(between.sum == 12)
        // Everything past 0.5: the quantile sits at the last finite bound.
        #expect(between.quantile(0.95) == 0.5)
        // A series that did not exist before counts whole.
        #expect(later.since(HistogramCounts()) == later)
    }

    static let scrape = MetricsScrape(text: """
        # TYPE sluice_requests_total counter
        sluice_requests_total{route="chat",status="200",outcome="completed"} 7
        sluice_requests_total{route="chat",status="429",outcome="rejected"} 3
        sluice_requests_total{route="(none)",status="404",outcome="rejected"} 1
        sluice_active_streams{route="chat"} 2
        sluice_tokens_total{route="chat",type="completion",source="counted"} 100
        sluice_tokens_total{route="chat",type="completion",source="usage"} 20
        sluice_tokens_total{route="chat",type="prompt",source="usage"} 999
        sluice_time_to_first_token_seconds_bucket{route="chat",le="0.1"} 5
        sluice_time_to_first_token_seconds_bucket{route="chat",le="+Inf"} 7
        sluice_time_to_first_token_seconds_sum{route="chat"} 1.4
        sluice_time_to_first_token_seconds_count{route="chat"} 7
        sluice_admission_wait_seconds_sum{route="chat"} 0.7
        sluice_admission_wait_seconds_count{route="chat"} 7
        sluice_admission_queue_length{chain="main",filter="admission"} 3
        sluice_circuit_breaker_state{chain="main",filter="circuit_breaker",endpoint="up/a"} 2
        sluice_timeouts_total{chain="main",filter="timeouts",timer="first_token"} 4
        """)

    @Test func aScrapeIsReadPerRouteAndPerFilter() throws {
        let reading = ConsoleReading(Self.scrape)
        let chat = try #require(reading.routes["chat"])
        #expect(chat.requests == 10)
        #expect(chat.outcomes == ["completed": 7, "rejected": 3])
        #expect(chat.active == 2)
        #expect(chat.completionTokens == 120)
        #expect(chat.timeToFirstToken.cumulative == [5, 7] && chat.timeToFirstToken.count == 7)
        #expect(abs((chat.parts["queue"]?.mean ?? 0) - 0.1) < 1e-9)
        #expect(reading.routes["(none)"]?.requests == 1)
        let main = try #require(reading.filters["main"])
        #expect(main["admission"] == [.init(metric: "sluice_admission_queue_length", labels: [:], value: 3)])
        #expect(main["timeouts"] == [.init(metric: "sluice_timeouts_total", labels: ["timer": "first_token"], value: 4)])
        #expect(reading.breakerStates == ["main|circuit_breaker|up/a": 2])
    }

    @Test func theHistoryKeepsFifteenMinutesAndDrawsSeriesFromIt() {
        var history = ConsoleHistory(interval: 10, span: 60)
        #expect(history.capacity == 7)
        #expect(history.isDue(at: 0))
        var reading = ConsoleReading()
        for step in 0...9 {
            reading.routes["chat", default: .init()].requests = Double(step * 20)      // 2 per second
            reading.routes["chat", default: .init()].completionTokens = Double(step * 100)
            history.record(reading, at: Double(step * 10))
        }
        #expect(!history.isDue(at: 95) && history.isDue(at: 100))
        // Only the last minute is kept: readings at 30 s ... 90 s.
        #expect(history.points.map(\.time) == [30, 40, 50, 60, 70, 80, 90])
        let series = history.series(of: "chat")
        #expect(series.count == 6)
        #expect(series.allSatisfy { $0.requestsPerSecond == 2 && $0.tokensPerSecond == 10 && $0.ttftP95 == nil })
        #expect(history.series(of: "nobody").allSatisfy { $0.requestsPerSecond == 0 })
        // Rates at 95 s are taken against the oldest reading of the last minute; none at 1000 s.
        #expect(history.baseline(at: 95, window: 60)?.time == 40)
        #expect(history.baseline(at: 1000, window: 60) == nil)
        // A reading at the very time asked for is no baseline (the rate would divide by zero).
        #expect(history.baseline(at: 30, window: 0.01) == nil)
    }

    @Test func aBreakersHistoryHasAGapUntilItWasFirstSeen() {
        var history = ConsoleHistory(interval: 10, span: 60)
        history.record(ConsoleReading(), at: 0)
        history.record(ConsoleReading(Self.scrape), at: 10)
        #expect(history.breakerHistory("main|circuit_breaker|up/a") == [nil, 2])
    }
}
