import Foundation
import SluiceFilterAPI
import SluiceTesting
import Testing

/// Proxies in this process sharing one real `redis-server`, as instances behind a load balancer do.
enum SharedFixture {
    /// `ProxyHarness.filterFile(chain:)` with a `shared_state` section pointing at `redis`.
    static func filterFile(chain: String, redis: RedisTestServer, settings: String = "") -> String {
        ProxyHarness.filterFile(chain: chain) + """
        shared_state:
          url: redis://127.0.0.1:\(redis.port)/0
          timeout: 100ms
          connect_timeout: 200ms
        \(settings.split(separator: "\n").map { "  " + $0 }.joined(separator: "\n"))

        """
    }

    /// `count` proxies started from `text`.
    static func proxies(_ count: Int, _ text: String) throws -> [ProxyHarness] {
        try (0..<count).map { _ in try ProxyHarness(filterFile: text) }
    }

    /// A fresh `redis-server` and `count` proxies of `chain` sharing it through `settings`.
    static func start(_ count: Int, chain: String, settings: String = "") throws -> (RedisTestServer, [ProxyHarness]) {
        let redis = try RedisTestServer()
        return (redis, try proxies(count, filterFile(chain: chain, redis: redis, settings: settings)))
    }

    /// The three shared limits one after the other, which the engine asks in one round trip
    /// (`SharedLimitFilter`), with a bucket of `capacity` requests that never refills.
    static func threeSharedLimits(capacity: Int) -> String {
        """
        - filter: connection_manager
          config: { max_streams: 10, shared: true }
        - filter: token_bucket
          config: { capacity: \(capacity), refill_per_second: 0, shared: true }
        - filter: admission
          config: { max_active_streams: 10, shared: true }
        """
    }

    /// Polls `condition` every 2 ms until it holds or 2 s pass; returns whether it held.
    static func waitUntil(_ condition: () -> Bool) -> Bool {
        let deadline = ContinuousClock.now + .seconds(2)
        while ContinuousClock.now < deadline {
            if condition() { return true }
            Thread.sleep(forTimeInterval: 0.002)
        }
        return condition()
    }

    static func status(_ port: Int, headers: [(String, String)] = [], json: String = TestClient.chatRequest()) -> Int {
        (try? TestClient.post(port: port, path: "/v1/chat/completions", json: json, headers: headers))?.head.status ?? -1
    }
}

@Suite("token_bucket shared through Redis", .serialized, .enabled(if: RedisTestServer.isInstalled, "redis-server is not installed"))
struct SharedTokenBucketTests {
    @Test func threeProxiesAdmitExactlyTheCapacityInAllEvenAllAtOnce() throws {
        let (redis, proxies) = try SharedFixture.start(3, chain: """
            - filter: token_bucket
              config: { capacity: 20, refill_per_second: 0, shared: true }
            """)
        defer { proxies.forEach { $0.stop() } }
        // 50 requests arriving at once on all three.
        let statuses = TestClient.statusesAtOnce(50, ports: proxies.map(\.port))
        #expect(statuses.count == 50)
        #expect(statuses.filter { $0 == 200 }.count == 20)
        #expect(statuses.filter { $0 == 429 }.count == 30)
        // And one after another: nothing left anywhere.
        for proxy in proxies { #expect(SharedFixture.status(proxy.port) == 429) }
        let level = try redis.command("HGET", "sluice:tb:{main}:token_bucket:127.0.0.1", "level")
        #expect(level.integerValue == 0)
    }

    @Test func theRefillIsSharedToo() throws {
        // The server lives as long as `redis` does: name it, or it stops at once.
        let (redis, proxies) = try SharedFixture.start(2, chain: """
            - filter: token_bucket
              config: { capacity: 20, refill_per_second: 20, shared: true }
            """)
        defer { proxies.forEach { $0.stop() }; redis.stop() }
        let ports = proxies.map(\.port)
        #expect(TestClient.statusesAtOnce(30, ports: ports).filter { $0 == 200 }.count >= 20)
        // Empty now. After 300 ms the one bucket has regained about 6 tokens, for both proxies together.
        let emptied = ContinuousClock.now
        Thread.sleep(forTimeInterval: 0.3)
        let statuses = TestClient.statusesAtOnce(30, ports: ports)
        let elapsed = ContinuousClock.now - emptied
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let admitted = statuses.filter { $0 == 200 }.count
        #expect(admitted >= 5)
        #expect(admitted <= Int((20 * seconds).rounded(.up)))
    }

    @Test func tokensModeReservesAndSettlesInTheSharedBucket() throws {
        let (redis, proxies) = try SharedFixture.start(2, chain: """
            - filter: token_bucket
              config: { mode: tokens, capacity: 1000, refill_per_second: 0, shared: true }
            """)
        defer { proxies.forEach { $0.stop() } }
        // Each request reserves its prompt estimate + 100, and is settled to what the stream reports:
        // 6 prompt tokens + 10 completion tokens.
        let json = TestClient.chatRequest(includeUsage: true, maxTokens: 100)
        for i in 0..<4 { #expect(SharedFixture.status(proxies[i % 2].port, json: json) == 200) }
        let key = "sluice:tb:{main}:token_bucket:127.0.0.1"
        var level: Int64?
        let deadline = ContinuousClock.now + .seconds(3)
        repeat {
            level = try redis.command("HGET", key, "level").text.flatMap { Double($0) }.map { Int64($0) }
        } while level != 1000 - 4 * 16 && ContinuousClock.now < deadline
        #expect(level == Int64(1000 - 4 * 16), "level \(String(describing: level))")
        // A request that needs more than what is left is refused on either proxy.
        #expect(SharedFixture.status(proxies[0].port, json: TestClient.chatRequest(maxTokens: 950)) == 429)
    }

    @Test func onFailureLocalFallsBackToTheInstancesOwnBucketAndSharingResumes() throws {
        let (redis, proxies) = try SharedFixture.start(1, chain: """
            - filter: token_bucket
              config: { capacity: 3, refill_per_second: 0, shared: true }
            """, settings: "on_failure: local")
        let proxy = proxies[0]
        defer { proxy.stop() }
        #expect(SharedFixture.status(proxy.port) == 200)  // shared: 2 left in Redis
        redis.stop()
        // Local: this instance's own bucket of 3, whatever Redis had.
        var statuses: [Int] = []
        for _ in 0..<4 {
            let started = ContinuousClock.now
            statuses.append(SharedFixture.status(proxy.port))
            #expect(ContinuousClock.now - started < .seconds(1))
        }
        #expect(statuses == [200, 200, 200, 429])
        let m = try proxy.metrics()
        #expect(m.value("sluice_shared_state_policy_applied_total", ["policy": "local"]) >= 4)
        #expect(m.value("sluice_shared_state_commands_total", ["result": "unavailable"])
            + m.value("sluice_shared_state_commands_total", ["result": "timeout"]) >= 4)
        // Redis back (empty): the shared bucket is full again and used again.
        try redis.restart()
        var shared = false
        let deadline = ContinuousClock.now + .seconds(5)
        while !shared, ContinuousClock.now < deadline {
            shared = SharedFixture.status(proxy.port) == 200
                && (try? redis.command("HGET", "sluice:tb:{main}:token_bucket:127.0.0.1", "level"))?.text != nil
        }
        #expect(shared)
    }

    @Test func onFailureOpenAdmitsAndClosedRefusesWithin503AndReadyzFollows() throws {
        let redis = try RedisTestServer()
        let chain = """
            - filter: token_bucket
              config: { capacity: 1, refill_per_second: 0, shared: true }
            """
        let open = try ProxyHarness(filterFile: SharedFixture.filterFile(chain: chain, redis: redis, settings: "on_failure: open"))
        defer { open.stop() }
        let closed = try ProxyHarness(filterFile: SharedFixture.filterFile(chain: chain, redis: redis, settings: "on_failure: closed"))
        defer { closed.stop() }
        #expect(SharedFixture.status(open.port) == 200)
        #expect(SharedFixture.status(closed.port) == 429)  // one bucket for both
        #expect(try closed.admin("GET", "/readyz").head.status == 200)
        redis.stop()
        for _ in 0..<3 {
            let started = ContinuousClock.now
            #expect(SharedFixture.status(open.port) == 200)
            let refused = try TestClient.post(port: closed.port, path: "/v1/chat/completions", json: TestClient.chatRequest())
            #expect(refused.head.status == 503)
            #expect(refused.bodyText.contains("shared limit cannot be checked"))
            #expect(ContinuousClock.now - started < .seconds(2))
        }
        var notReady = false
        let deadline = ContinuousClock.now + .seconds(3)
        while !notReady, ContinuousClock.now < deadline { notReady = try closed.admin("GET", "/readyz").head.status == 503 }
        #expect(notReady)
        #expect(try closed.admin("GET", "/healthz").head.status == 200)
        #expect(try closed.metrics().value("sluice_shared_state_policy_applied_total", ["policy": "closed"]) >= 3)
        try redis.restart()
        var ready = false
        let back = ContinuousClock.now + .seconds(5)
        while !ready, ContinuousClock.now < back { ready = try closed.admin("GET", "/readyz").head.status == 200 }
        #expect(ready)
    }

    @Test func aSlowRedisNeverHoldsARequestPastTheTimeout() throws {
        let (redis, proxies) = try SharedFixture.start(1, chain: """
            - filter: token_bucket
              config: { capacity: 100, refill_per_second: 0, shared: true }
            """, settings: "on_failure: open")
        let proxy = proxies[0]
        defer { proxy.stop() }
        #expect(SharedFixture.status(proxy.port) == 200)
        let port = redis.port
        let sleeper = Thread { _ = try? RedisTestServer.command(["DEBUG", "SLEEP", "1.5"], port: port, timeout: .seconds(5)) }
        sleeper.start()
        var sawTimeout = false
        // Long enough for the sleeper's own connection to start on a loaded machine.
        let deadline = ContinuousClock.now + .seconds(5)
        while !sawTimeout, ContinuousClock.now < deadline {
            let started = ContinuousClock.now
            #expect(SharedFixture.status(proxy.port) == 200)
            // The normal path here is under 200 ms; the Redis timeout is 100 ms.
            #expect(ContinuousClock.now - started < .milliseconds(900))
            sawTimeout = try proxy.metrics().value("sluice_shared_state_commands_total", ["result": "timeout"]) > 0
        }
        #expect(sawTimeout)
    }
}
