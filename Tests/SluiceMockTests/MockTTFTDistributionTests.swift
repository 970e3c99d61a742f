import SluiceMock
import Testing

/// The per-request time-to-first-token draws: read from the `ttft` setting, reproducible from the
/// seed, and shaped as written.
@Suite struct MockTTFTDistributionTests {
    @Test func aPlainDurationStaysFixed() throws {
        let settings = try MockSettings(query: "ttft=150ms")
        #expect(settings.timeToFirstToken == .milliseconds(150))
        #expect(settings.ttftDistribution == nil)
        let server = MockServer(settings: settings)
        #expect(server.settingsForNextRequest().timeToFirstToken == .milliseconds(150))
    }

    @Test func aWeightedListIsReadWithItsMedian() throws {
        let settings = try MockSettings(query: "ttft=80ms:9,1.5s:1&seed=7")
        #expect(settings.ttftDistribution == .weighted([.init(value: .milliseconds(80), weight: 9),
                                                         .init(value: .milliseconds(1500), weight: 1)]))
        #expect(settings.timeToFirstToken == .milliseconds(80))
        #expect(settings.seed == 7)
    }

    @Test func weightedDrawsFollowTheWeights() {
        let distribution = MockTTFTDistribution.weighted([.init(value: .milliseconds(80), weight: 9),
                                                          .init(value: .milliseconds(1500), weight: 1)])
        var generator = MockRandom(seed: 42)
        var slow = 0
        for _ in 0..<10_000 where distribution.draw(using: &generator) == .milliseconds(1500) { slow += 1 }
        // One in ten, within a generous margin for 10,000 draws.
        #expect((800...1200).contains(slow))
    }

    @Test func lognormalDrawsHaveTheMedianAndALongTail() throws {
        let settings = try MockSettings(query: "ttft=lognormal:200ms:1")
        guard case .lognormal(let median, let sigma)? = settings.ttftDistribution else {
            Issue.record("not a lognormal: \(String(describing: settings.ttftDistribution))")
            return
        }
        #expect(median == .milliseconds(200) && sigma == 1)
        var generator = MockRandom(seed: 3)
        var draws = (0..<4001).map { _ in settings.ttftDistribution!.draw(using: &generator) }
        draws.sort()
        let p50 = draws[2000], p99 = draws[3960]
        #expect(p50 > .milliseconds(180) && p50 < .milliseconds(220))
        // exp(2.33) ≈ 10: the 99th percentile sits about ten medians out.
        #expect(p99 > .milliseconds(1500) && p99 < .milliseconds(2700))
    }

    @Test func theSameSeedGivesTheSameDraws() throws {
        let settings = try MockSettings(query: "ttft=lognormal:100ms:0.5&seed=11")
        let a = MockServer(settings: settings), b = MockServer(settings: settings)
        let first = (0..<20).map { _ in a.settingsForNextRequest().timeToFirstToken }
        let second = (0..<20).map { _ in b.settingsForNextRequest().timeToFirstToken }
        #expect(first == second)
        #expect(Set(first).count > 1)
    }

    @Test(arguments: ["ttft=80ms:0", "ttft=80ms:9,fast:1", "ttft=lognormal:200ms", "ttft=lognormal:0ms:1",
                      "ttft=lognormal:200ms:9", "seed=x"])
    func badDistributionsAreRefusedNamingTheKey(_ query: String) {
        #expect(throws: MockSettingsError.self) { try MockSettings(query: query) }
        do {
            _ = try MockSettings(query: query)
        } catch {
            #expect(error.message.hasPrefix(query.hasPrefix("seed") ? "seed:" : "ttft:"))
        }
    }
}
