import Foundation
import SluiceFilterAPI
import SluiceFilters
import SluiceMock
import SluiceTesting
import Testing

/// `hedge` with `token_bucket` in `mode: tokens`, over real sockets: a hedged request is charged
/// once, for the winner's usage.
@Suite(.serialized)
struct HedgeTokenBucketTests {
    /// A chain `token_bucket` (tokens, capacity 10000, no refill, 100 reserved for the completion)
    /// then `hedge` (after 100 ms), in front of a slow endpoint (first token at 20 s) and the
    /// harness's fast mock. A streamed request asking the mock for 37 tokens goes to the slow
    /// endpoint first; the hedge to the fast one wins and the slow one is cancelled before any
    /// content. The mock reports usage 6 prompt + 37 completion = 43 (the prompt is
    /// `TestClient.chatPrompt`'s six words), and the reservation is 9 (33 characters / 4) + 100.
    ///
    /// Proves: the bucket ends at exactly 10000 − 43 after the hedged request: the winner's usage,
    /// charged once (not twice: 9914; not the reservation: 9891; not nothing: 10000; not the
    /// fallback for a stream without usage, 9 + 37: 9954, which the hedge's upstream request would
    /// give without the `include_usage` the filter adds). A following request that is not hedged
    /// sees that level in its `RateLimit-Remaining` and is charged the same 43.
    @Test func aHedgedRequestIsChargedOnceForTheWinnersUsage() throws {
        let slow = try startMock(ttft: .seconds(20))
        defer { slow.stop() }
        let capture = FilterCapture<TokenBucketFilter>()
        let registry = BuiltinFilters.registry()
        registry.register("token_bucket") { capture.keep(TokenBucketFilter($0)) }
        let proxy = try ProxyHarness(filterFile: pairFile(["http://127.0.0.1:\(slow.port)", "{{upstream}}"], admin: true, chain: """
            - filter: token_bucket
              config: { mode: tokens, capacity: 10000, refill_per_second: 0, default_max_tokens: 100 }
            - filter: hedge
              config: { after: 100ms }
            """), registry: registry, workers: 1)
        defer { proxy.stop() }
        let bucket = try #require(capture.last)
        let capacity = 10000.0, reserved = 9.0 + 100, usage = 6.0 + 37

        // Polls the client's bucket until it reads `expected` (settlement runs after the client has
        // its answer), at most 5 s, and returns the last level read.
        func level(reaching expected: Double) -> Double {
            let deadline = ContinuousClock.now + .seconds(5)
            var level = bucket.level(forKey: "127.0.0.1")
            while level != expected, ContinuousClock.now < deadline {
                usleep(2_000)
                level = bucket.level(forKey: "127.0.0.1")
            }
            return level
        }

        // The hedged request.
        let hedged = try TestClient.post(port: proxy.port, path: "/v1/chat/completions", json: TestClient.chatRequest(),
                                         headers: [("x-request-id", "hedged"), ("x-mock-tokens", "37")])
        #expect(hedged.status == 200 && hedged.ending == .complete, "\(hedged.bodyText)")
        #expect(hedged.head.headers["ratelimit-remaining"] == "\(Int(capacity - reserved))")
        #expect(hedged.sseEvents.filter { $0.data.contains(#""content":" "#) }.count == 37)
        #expect(!hedged.sseEvents.contains { $0.data.contains("usage") }, "the usage chunk the filter asked for is hidden")
        let scrape = try proxy.metrics(within: .seconds(5)) {
            $0.value("sluice_hedges_total", ["filter": "hedge", "result": "won"]) == 1
        }
        #expect(scrape.value("sluice_hedges_total", ["filter": "hedge", "result": "started"]) == 1)
        #expect(scrape.value("sluice_hedges_total", ["filter": "hedge", "result": "won"]) == 1)
        // The slow endpoint had the first attempt, cancelled before its first token; the winner was
        // asked for usage, as the first attempt was.
        #expect(slow.journal.wait(timeout: .seconds(5)) { $0.first?.ending == .cancelledByPeer })
        let winner = try #require(proxy.upstream.journal.entries.first)
        #expect(proxy.upstream.journal.entries.count == 1)
        let sent = (try? JSONSerialization.jsonObject(with: Data(winner.bodyText.utf8))) as? [String: Any]
        let options = sent?["stream_options"] as? [String: Any]
        #expect(options?["include_usage"] as? Bool == true, "the hedge sent \(winner.bodyText)")

        let afterHedged = level(reaching: capacity - usage)
        #expect(afterHedged == capacity - usage,
                "charged \(capacity - afterHedged) for a hedged request whose winner used \(usage)")

        // A request that is not hedged (its first token comes at once wherever it goes), for
        // comparison: it sees the level the hedged one left, and is charged the same.
        let plain = try TestClient.post(port: proxy.port, path: "/v1/chat/completions", json: TestClient.chatRequest(),
                                        headers: [("x-request-id", "plain"), ("x-mock-tokens", "37"), ("x-mock-ttft", "5ms")])
        #expect(plain.status == 200 && plain.ending == .complete, "\(plain.bodyText)")
        #expect(plain.head.headers["ratelimit-remaining"] == "\(Int(capacity - usage - reserved))")
        let afterPlain = level(reaching: capacity - 2 * usage)
        #expect(afterHedged - afterPlain == capacity - afterHedged, "hedged: \(capacity - afterHedged), not hedged: \(afterHedged - afterPlain)")
        #expect(try proxy.metrics().value("sluice_hedges_total", ["filter": "hedge", "result": "started"]) == 1)
    }
}
