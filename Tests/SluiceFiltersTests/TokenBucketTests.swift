import SluiceConfig
import SluiceFilterAPI
@testable import SluiceFilters
import SluiceHTTP
import Testing

/// The bucket arithmetic, the keyed store and the filter's reload behaviour, without sockets or
/// sleeping: time is a `ManualClock` (or plain instants) moved by hand.
struct TokenBucketTests {
    private let t0 = MonotonicInstant(nanoseconds: 1_000_000_000)

    private func settings(_ capacity: Int, _ refill: Double) -> TokenBucket.Settings {
        TokenBucket.Settings(capacity: capacity, refillPerSecond: refill)
    }

    // MARK: - TokenBucket

    @Test func startsFullAndRefusesOnceEmpty() {
        let s = settings(3, 1)
        var bucket = TokenBucket(full: s, at: t0)
        #expect(bucket.wholeTokens == 3)
        let took1 = bucket.take(1, s, now: t0)
        #expect(took1)
        let took2 = bucket.take(2, s, now: t0)
        #expect(took2)
        let took3 = bucket.take(1, s, now: t0)
        #expect(!took3)
        #expect(bucket.wholeTokens == 0)
        // A refused take takes nothing.
        #expect(bucket.tokens == 0)
    }

    @Test func fractionalRatesRefillExactlyHoweverTimeIsSplit() {
        let s = settings(10, 2.5)
        var once = TokenBucket(tokens: 0, settings: s, at: t0)
        once.refill(s, to: t0 + .milliseconds(400))
        #expect(once.tokens == 1)

        // 1000 steps of 0.4 ms each earn 1/1000 of a token: less than a unit goes into the carry,
        // and the carry makes the sum exact.
        var stepped = TokenBucket(tokens: 0, settings: s, at: t0)
        for step in 1...1000 {
            stepped.refill(s, to: t0 + .microseconds(400 * step))
        }
        #expect(stepped.tokens == 1)

        // Steps far smaller than a unit's worth (1 ns at 2.5 tokens/s is 0.0025 units) still add up.
        var tiny = TokenBucket(tokens: 0, settings: s, at: t0)
        for step in 1...1_000 { tiny.refill(s, to: t0 + .nanoseconds(step)) }
        tiny.refill(s, to: t0 + .milliseconds(400))
        #expect(tiny.tokens == 1)
    }

    @Test func neverRefillsAboveCapacity() {
        let s = settings(5, 100)
        var bucket = TokenBucket(tokens: 1, settings: s, at: t0)
        bucket.refill(s, to: t0 + .seconds(3600 * 24 * 365 * 100))
        #expect(bucket.tokens == 5)
        bucket.adjust(by: 1_000, s, now: bucket.updated)
        #expect(bucket.tokens == 5)
    }

    @Test func anEarlierInstantChangesNothing() {
        let s = settings(5, 1)
        var bucket = TokenBucket(tokens: 1, settings: s, at: t0 + .seconds(2))
        bucket.refill(s, to: t0)
        #expect(bucket.tokens == 1)
        #expect(bucket.updated == t0 + .seconds(2))
    }

    @Test func timeUntilAvailableAndUntilFull() {
        let s = settings(10, 2)
        var bucket = TokenBucket(tokens: 0, settings: s, at: t0)
        #expect(bucket.time(untilAvailable: 1, s) == .milliseconds(500))
        #expect(bucket.time(untilAvailable: 3, s) == .milliseconds(1500))
        #expect(bucket.timeUntilFull(s) == .seconds(5))
        #expect(bucket.time(untilAvailable: 11, s) == nil, "more than the capacity never fits")
        bucket.refill(s, to: t0 + .milliseconds(300))
        #expect(bucket.time(untilAvailable: 1, s) == .milliseconds(200))
        #expect(TokenBucket.wholeSeconds(roundingUp: .milliseconds(1500)) == 2)
        #expect(TokenBucket.wholeSeconds(roundingUp: .seconds(2)) == 2)
        #expect(TokenBucket.wholeSeconds(roundingUp: .nanoseconds(1)) == 1)
        #expect(TokenBucket.wholeSeconds(roundingUp: .zero) == 0)

        let still = settings(10, 0)
        let empty = TokenBucket(tokens: 0, settings: still, at: t0)
        #expect(empty.time(untilAvailable: 1, still) == nil)
        #expect(empty.timeUntilFull(still) == nil)
        #expect(TokenBucket(full: still, at: t0).timeUntilFull(still) == .zero)
    }

    @Test func refundsStopAtCapacityAndChargesAtMinusCapacity() {
        let s = settings(100, 10)
        var bucket = TokenBucket(full: s, at: t0)
        let took4 = bucket.take(60, s, now: t0)
        #expect(took4)
        bucket.adjust(by: 25, s, now: t0)
        #expect(bucket.tokens == 65)
        bucket.adjust(by: -150, s, now: t0)
        #expect(bucket.tokens == -85)
        bucket.adjust(by: -1_000, s, now: t0)
        #expect(bucket.tokens == -100)
        // A debt is paid back by refill before anyone is admitted.
        let took5 = bucket.take(1, s, now: t0 + .milliseconds(9_900))
        #expect(!took5)
        #expect(bucket.tokens == -1)
        #expect(bucket.time(untilAvailable: 1, s) == .milliseconds(200))
        #expect(bucket.wholeTokens == 0)
    }

    @Test func rescalingKeepsTheFractionFull() {
        let small = settings(10, 1)
        let large = settings(40, 1)
        var bucket = TokenBucket(full: small, at: t0)
        let took6 = bucket.take(3, small, now: t0)
        #expect(took6)
        #expect(bucket.rescaled(from: small, to: large, at: t0).tokens == 28)
        #expect(bucket.rescaled(from: small, to: settings(5, 1), at: t0).tokens == 3.5)
        bucket.adjust(by: -12, small, now: t0)
        #expect(bucket.tokens == -5)
        #expect(bucket.rescaled(from: small, to: large, at: t0).tokens == -20)
        // Refilled under the old settings up to the moment of the change.
        #expect(bucket.rescaled(from: small, to: large, at: t0 + .seconds(5)).tokens == 0)
    }

    // MARK: - TokenBucketStore

    /// A store in a box, so `#expect` (whose expansion captures its operands) can call mutating members.
    private final class Store {
        var store: TokenBucketStore
        init(_ store: TokenBucketStore) { self.store = store }
        var count: Int { store.count }
        func peek(_ key: String) -> TokenBucket? { store.peek(key) }
        func take(_ key: String, _ tokens: Int = 1, at now: MonotonicInstant) -> Bool {
            store.withBucket(key, now: now) { bucket, s in bucket.take(tokens, s, now: now) }
        }
        func touchExisting(_ key: String, at now: MonotonicInstant) -> Bool {
            store.withExistingBucket(key, now: now) { _, _ in true } ?? false
        }
        func evictIdle(now: MonotonicInstant) { store.evictIdle(now: now) }
    }

    private func store(capacity: Int = 5, refill: Double = 1, maxBuckets: Int, idle: Duration = .seconds(600)) -> Store {
        Store(TokenBucketStore(.init(settings: settings(capacity, refill), maxBuckets: maxBuckets, idleAfter: idle)))
    }

    @Test func keysHaveTheirOwnBuckets() {
        let s = store(capacity: 2, refill: 0, maxBuckets: 10)
        #expect(s.take("a", at: t0))
        #expect(s.take("a", at: t0))
        #expect(!s.take("a", at: t0))
        #expect(s.take("b", at: t0))
        #expect(s.count == 2)
        #expect(s.peek("a")?.tokens == 0)
        #expect(s.peek("b")?.tokens == 1)
        #expect(s.peek("c") == nil)
    }

    @Test func theLeastRecentlyUsedBucketMakesRoom() {
        let s = store(capacity: 2, refill: 0, maxBuckets: 3)
        for key in ["a", "b", "c"] { #expect(s.take(key, at: t0)) }
        // Touch a: b is now the least recently used.
        #expect(s.take("a", at: t0))
        #expect(s.take("d", at: t0))
        #expect(s.count == 3)
        #expect(s.peek("b") == nil)
        #expect(s.peek("a")?.tokens == 0)
        #expect(s.peek("c")?.tokens == 1)
        #expect(s.peek("d")?.tokens == 1)
        // An existing-only update does not bring b back.
        #expect(!s.touchExisting("b", at: t0))
        #expect(s.count == 3)
    }

    @Test func fillLooksAtTheMostRecentlyUsedBucketsRefilledToNow() {
        let s = store(capacity: 10, refill: 1, maxBuckets: 100)
        #expect(s.store.fill(now: t0, limit: 10, nearEmpty: 0.1) == (0, nil, 0))
        for _ in 0..<10 { #expect(s.take("drained", at: t0)) }
        #expect(s.take("half", 5, at: t0))
        #expect(s.take("full", 0, at: t0))
        let atOnce = s.store.fill(now: t0, limit: 10, nearEmpty: 0.1)
        #expect(atOnce.looked == 3 && atOnce.lowest == 0 && atOnce.nearEmpty == 1)
        // Two seconds later "drained" holds 2 of 10: no longer under 10%.
        let later = s.store.fill(now: t0 + .seconds(2), limit: 10, nearEmpty: 0.1)
        #expect(later.lowest == 0.2 && later.nearEmpty == 0)
        // The walk stops at the limit, most recently used first ("full", then "half").
        let bounded = s.store.fill(now: t0, limit: 2, nearEmpty: 0.1)
        #expect(bounded.looked == 2 && bounded.lowest == 0.5 && bounded.nearEmpty == 0)
        // Looking marks nothing used: "drained" is still the least recently used.
        #expect(s.count == 3)
    }

    @Test func idleBucketsAreDropped() {
        let s = store(maxBuckets: 100, idle: .seconds(60))
        #expect(s.take("old", at: t0))
        #expect(s.take("recent", at: t0 + .seconds(30)))
        #expect(s.take("other", at: t0 + .seconds(61)))
        #expect(s.peek("old") == nil)
        #expect(s.peek("recent") != nil)
        #expect(s.count == 2)
        s.evictIdle(now: t0 + .seconds(200))
        #expect(s.count == 0)
    }

    @Test func aMillionRandomKeysStayWithinTheCapAndTheStoreStillWorks() {
        let cap = 1_000
        let s = store(capacity: 3, refill: 0, maxBuckets: cap)
        var generator = SystemRandomNumberGenerator()
        let clock = ManualClock()
        var largest = 0
        for i in 0..<1_000_000 {
            let key = String(generator.next() as UInt64, radix: 36)
            let now = clock.now()
            _ = s.take(key, at: now)
            largest = max(largest, s.count)
            if i % 100_000 == 0 { clock.advance(by: .milliseconds(1)) }
        }
        #expect(largest == cap)
        #expect(s.count == cap)
        // Still a working limiter afterwards.
        let now = clock.now()
        #expect(s.take("steady", 3, at: now))
        #expect(!s.take("steady", at: now))
        #expect(s.count == cap)
        #expect(s.peek("steady")?.tokens == 0)
    }

    // MARK: - The filter across a reload

    private func filter(_ yaml: String, previous: TokenBucketFilter? = nil, clock: ManualClock) throws -> (TokenBucketFilter, [String]) {
        let node = try YAMLLoader.load(text: yaml, path: "tb.yaml")
        let diagnostics = ConfigDiagnostics()
        let config = ConfigMap(node, diagnostics: diagnostics, context: "filter 'limit'")
        let made = TokenBucketFilter(FilterSetup(type: "token_bucket", name: "limit", chain: "main", config: config,
                                                 previous: previous, clock: clock, workers: 2))
        config.finish()
        return (made, diagnostics.errors.map(\.description))
    }

    private func exchange(from address: String, clock: ManualClock) -> Exchange {
        let head = HTTPRequestHead(method: "POST", target: "/v1/chat/completions", headers: HTTPHeaders([("host", "x")]))
        return Exchange(id: "r", request: head, client: ClientInfo(address: address, port: 1, secure: false, listener: "test"),
                        route: RouteInfo(name: "all", chain: "main", upstreamGroup: "fake"), dialect: .openai,
                        clock: clock, worker: 0)
    }

    @Test func aReloadKeepsEachBucketAsFullInProportion() throws {
        let clock = ManualClock()
        let (first, errors) = try filter("{ capacity: 10, refill_per_second: 0 }", clock: clock)
        #expect(errors.isEmpty)
        for _ in 0..<6 {
            guard case .next = first.onRequest(exchange(from: "10.0.0.1", clock: clock)) else {
                Issue.record("refused while the bucket had tokens")
                return
            }
        }
        #expect(first.level(forKey: "10.0.0.1") == 4)

        let (second, moreErrors) = try filter("{ capacity: 20, refill_per_second: 0 }", previous: first, clock: clock)
        #expect(moreErrors.isEmpty)
        // 40 % full before, 40 % full after.
        #expect(second.level(forKey: "10.0.0.1") == 8)
        #expect(second.level(forKey: "10.0.0.2") == 20)
        guard case .next = second.onRequest(exchange(from: "10.0.0.1", clock: clock)) else {
            Issue.record("refused after the reload")
            return
        }
        #expect(second.level(forKey: "10.0.0.1") == 7)

        // A different key setting starts afresh: the old buckets mean something else.
        let (third, _) = try filter("{ capacity: 20, refill_per_second: 0, key: global }", previous: second, clock: clock)
        #expect(third.level(forKey: "10.0.0.1") == 20)
    }

    @Test func configProblemsAreRecordedWithPositions() throws {
        let clock = ManualClock()
        let (_, missing) = try filter("{ refill_per_second: 1 }", clock: clock)
        #expect(missing == ["tb.yaml:1:1: missing required key 'capacity'"])
        let (_, wrong) = try filter("""
            capacity: 0
            refill_per_second: -1
            mode: token
            idle_eviction: 10
            max_bucket: 5
            """, clock: clock)
        #expect(wrong.contains("tb.yaml:1:11: 'capacity' must be between 1 and 1000000000000, got 0"))
        #expect(wrong.contains { $0.hasPrefix("tb.yaml:2:20: 'refill_per_second' must be between") })
        #expect(wrong.contains { $0.hasPrefix("tb.yaml:3:7: 'mode' must be one of requests, tokens") && $0.contains("did you mean 'tokens'") })
        #expect(wrong.contains("tb.yaml:4:16: 'idle_eviction': a duration needs a unit, e.g. 30s (got 10)"))
        #expect(wrong.contains { $0.hasPrefix("tb.yaml:5:1: unknown key 'max_bucket' (did you mean 'max_buckets'?)") })
        let (_, mismatched) = try filter("{ capacity: 5, refill_per_second: 1, cost: 6, default_max_tokens: 10 }", clock: clock)
        #expect(mismatched.contains { $0.hasPrefix("tb.yaml:1:44: 'cost' (6) must not exceed 'capacity' (5)") })
        #expect(mismatched.contains { $0.hasPrefix("tb.yaml:1:67: 'default_max_tokens' applies to mode: tokens only") })
    }

    @Test func idleEvictionIsNeverShorterThanARefillFromTheBottom() throws {
        let clock = ManualClock()
        let (slow, _) = try filter("{ capacity: 1000, refill_per_second: 1, idle_eviction: 1m }", clock: clock)
        #expect(slow.idleEviction == .seconds(2000))
        let (fast, _) = try filter("{ capacity: 10, refill_per_second: 10, idle_eviction: 1m }", clock: clock)
        #expect(fast.idleEviction == .seconds(60))
    }

    // MARK: - The request estimate

    @Test func estimatesPromptAndCompletionFromTheBody() {
        let chat = #"{"model":"m","stream":true,"max_tokens":50,"messages":[{"role":"system","content":"12345678"},{"role":"user","content":[{"type":"text","text":"abcd"},{"type":"image_url","image_url":{"url":"http://x/very/long/url"}}]}]}"#
        let e = LLMRequestEstimate(body: Array(chat.utf8), defaultMaxTokens: 1024)
        #expect(e.promptTokens == 3)
        #expect(e.completionTokens == 50)
        #expect(e.totalTokens == 53)
        #expect(e.stream && !e.includesUsage)

        let both = #"{"prompt":"abcde","max_tokens":100,"max_completion_tokens":20,"stream_options":{"include_usage":true}}"#
        let b = LLMRequestEstimate(body: Array(both.utf8), defaultMaxTokens: 1024)
        #expect(b.promptTokens == 2 && b.completionTokens == 20 && b.includesUsage && !b.stream)

        let bare = LLMRequestEstimate(body: Array(#"{"model":"abcdefgh"}"#.utf8), defaultMaxTokens: 7)
        #expect(bare.promptTokens == 5 && bare.completionTokens == 7)
        let notJSON = LLMRequestEstimate(body: Array("hello world".utf8), defaultMaxTokens: 7)
        #expect(notJSON.promptTokens == 3 && notJSON.completionTokens == 0)
        #expect(LLMRequestEstimate(body: [], defaultMaxTokens: 7).totalTokens == 1)
    }

    @Test func addsIncludeUsageKeepingTheClientsBytesWhenItCan() throws {
        let body = Array(#"  {"model":"m","stream":true,"temperature":0.7}"#.utf8)
        let spliced = try #require(LLMRequestEstimate.addingIncludeUsage(to: body))
        #expect(String(decoding: spliced, as: UTF8.self)
            == #"  {"stream_options":{"include_usage":true},"model":"m","stream":true,"temperature":0.7}"#)
        let withOptions = Array(#"{"stream":true,"stream_options":{"include_usage":false,"x":1}}"#.utf8)
        let rewritten = try #require(LLMRequestEstimate.addingIncludeUsage(to: withOptions))
        #expect(LLMRequestEstimate(body: rewritten, defaultMaxTokens: 1).includesUsage)
        #expect(String(decoding: rewritten, as: UTF8.self).contains(#""x":1"#))
        #expect(LLMRequestEstimate.addingIncludeUsage(to: Array(#"{"stream_options":"no"}"#.utf8)) == nil)
        #expect(LLMRequestEstimate.removingUsage(from: #"{"a":1,"usage":{"b":2}}"#) == #"{"a":1}"#)
    }
}
