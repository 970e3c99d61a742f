import Foundation
import SluiceTesting
import Testing

/// Batch mode (`shared: { batch: N }`) against a real `redis-server`, with proxies in this process
/// sharing it as instances behind a load balancer do.
@Suite("shared limits in batch mode", .serialized, .enabled(if: RedisTestServer.isInstalled, "redis-server is not installed"))
struct SharedBatchTests {
    /// The scripts Redis ran so far (EVALSHA and EVAL), from its own command statistics.
    static func scriptCalls(_ redis: RedisTestServer) throws -> Int {
        let stats = try redis.command("INFO", "commandstats").text ?? ""
        var calls = 0
        for line in stats.split(whereSeparator: \.isNewline)
        where line.hasPrefix("cmdstat_evalsha:") || line.hasPrefix("cmdstat_eval:") {
            if let field = line.split(separator: ",").first(where: { $0.contains("calls=") }),
               let n = Int(field.split(separator: "=").last ?? "") { calls += n }
        }
        return calls
    }

    /// Sends requests round-robin, one at a time, until a whole round is refused; answers how many passed.
    static func drain(_ ports: [Int]) -> Int {
        var admitted = 0
        var refusedInARow = 0
        var i = 0
        while refusedInARow < ports.count, i < 2000 {
            let status = SharedFixture.status(ports[i % ports.count])
            if status == 200 {
                admitted += 1
                refusedInARow = 0
            } else {
                #expect(status == 429)
                refusedInARow += 1
            }
            i += 1
        }
        return admitted
    }

    @Test func threeProxiesOnABatchedBucketNeverOvershootAndStrandAtMostInstancesTimesBatch() throws {
        let (redis, proxies) = try SharedFixture.start(3, chain: """
            - filter: token_bucket
              config: { capacity: 60, refill_per_second: 0, shared: { batch: 10, hold: 300ms } }
            """)
        defer { proxies.forEach { $0.stop() }; redis.stop() }
        let ports = proxies.map(\.port)
        // 150 requests arriving at once on all three.
        let statuses = TestClient.statusesAtOnce(150, ports: ports)
        let burst = statuses.filter { $0 == 200 }.count
        #expect(statuses.count == 150 && statuses.allSatisfy { $0 == 200 || $0 == 429 })
        // Zero overshoot; at most 3 instances × 10 tokens held elsewhere while one refuses.
        #expect(burst <= 60 && burst >= 60 - 3 * 10, "\(burst) admitted")
        // Whatever is still held goes back (or is spent) and nothing is lost: in all, exactly 60.
        var total = burst + Self.drain(ports)
        Thread.sleep(forTimeInterval: 0.7)
        total += Self.drain(ports)
        #expect(total == 60, "\(total) admitted in all")
        #expect(try redis.command("HGET", "sluice:tb:{main}:token_bucket:127.0.0.1", "level").text.flatMap(Double.init) == 0)
    }

    @Test func requestsTheHeldSliceAndBlocksAnswerSendNothingToRedis() throws {
        let (redis, proxies) = try SharedFixture.start(1, chain: """
            - filter: connection_manager
              config: { max_streams: 100, shared: { batch: 10, hold: 10s } }
            - filter: token_bucket
              config: { capacity: 100, refill_per_second: 0, shared: { batch: 10, hold: 10s } }
            - filter: admission
              config: { max_active_streams: 100, shared: { batch: 10, hold: 10s } }
            """)
        let proxy = proxies[0]
        defer { proxy.stop(); redis.stop() }
        #expect(SharedFixture.status(proxy.port) == 200)
        let before = try Self.scriptCalls(redis)
        #expect(before >= 1)
        // The first request took a block slot of each stream limit (now free again), and its token
        // with 9 more for the slice: the next four are answered by what this instance holds.
        for _ in 0..<4 { #expect(SharedFixture.status(proxy.port) == 200) }
        #expect(try Self.scriptCalls(redis) == before)
        let m = try proxy.metrics()
        #expect(m.value("sluice_shared_state_decisions_total", ["answered": "locally"]) == 12)
        #expect(m.value("sluice_shared_state_decisions_total", ["answered": "round_trip"]) == 3)
        // Redis holds what was taken: 1 + 9 tokens and one slot of each block.
        #expect(try redis.command("HGET", "sluice:tb:{main}:token_bucket:127.0.0.1", "level").text.flatMap(Double.init) == 90)
        #expect(try redis.command("ZCARD", "sluice:cm:{main}:connection_manager:all").integerValue == 1)
        #expect(try redis.command("ZCARD", "sluice:adm:{main}:admission:all").integerValue == 1)
    }

    @Test func tokensModeSettlesAgainstTheSliceAndGivesTheRestBack() throws {
        let (redis, proxies) = try SharedFixture.start(1, chain: """
            - filter: token_bucket
              config: { mode: tokens, capacity: 10000, refill_per_second: 0, shared: { batch: 2000, hold: 300ms } }
            """)
        let proxy = proxies[0]
        defer { proxy.stop(); redis.stop() }
        // Each request reserves its prompt estimate + 100 and is settled to what the stream reports:
        // 6 prompt tokens + 10 completion tokens.
        let json = TestClient.chatRequest(includeUsage: true, maxTokens: 100)
        #expect(SharedFixture.status(proxy.port, json: json) == 200)
        let before = try Self.scriptCalls(redis)
        for _ in 0..<3 { #expect(SharedFixture.status(proxy.port, json: json) == 200) }
        // Reserved and settled against the slice: no script for these three.
        #expect(try Self.scriptCalls(redis) == before)
        // Once the slice aged out, its rest is back: the bucket is short of exactly what was used.
        let key = "sluice:tb:{main}:token_bucket:127.0.0.1"
        var level: Double?
        let deadline = ContinuousClock.now + .seconds(3)
        repeat {
            level = try redis.command("HGET", key, "level").text.flatMap(Double.init)
            if level != Double(10000 - 4 * 16) { Thread.sleep(forTimeInterval: 0.02) }
        } while level != Double(10000 - 4 * 16) && ContinuousClock.now < deadline
        #expect(level == Double(10000 - 4 * 16), "level \(String(describing: level))")
    }

    @Test func onFailureClosedRefusesOnlyOnceTheSliceIsSpentAndOpenAdmits() throws {
        let redis = try RedisTestServer()
        let chain = """
            - filter: token_bucket
              config: { capacity: 100, refill_per_second: 0, shared: { batch: 5, hold: 10s } }
            """
        let closed = try ProxyHarness(filterFile: SharedFixture.filterFile(chain: chain, redis: redis, settings: "on_failure: closed"))
        defer { closed.stop() }
        let open = try ProxyHarness(filterFile: SharedFixture.filterFile(chain: chain, redis: redis, settings: "on_failure: open"))
        defer { open.stop() }
        #expect(SharedFixture.status(closed.port) == 200)
        redis.stop()
        // The first request took its token and 4 more, still held by the closed instance: spent without Redis.
        for _ in 0..<4 { #expect(SharedFixture.status(closed.port) == 200) }
        for _ in 0..<2 {
            let started = ContinuousClock.now
            #expect(SharedFixture.status(closed.port) == 503)
            #expect(SharedFixture.status(open.port) == 200)
            #expect(ContinuousClock.now - started < .seconds(2))
        }
        #expect(try closed.metrics().value("sluice_shared_state_policy_applied_total", ["policy": "closed"]) >= 2)
    }

    @Test func onFailureLocalFallsBackToTheInstancesOwnStreamCount() throws {
        let (redis, proxies) = try SharedFixture.start(1, chain: """
            - filter: connection_manager
              config: { max_streams: 2, shared: { batch: 2 } }
            """, settings: "on_failure: local")
        let proxy = proxies[0]
        defer { proxy.stop() }
        redis.stop()
        var streams: [TestClient] = []
        defer { streams.forEach { $0.close() } }
        for _ in 0..<2 {
            let client = try TestClient.startLongStream(port: proxy.port)
            #expect(try client.readHead(timeout: .seconds(5)).status == 200)
            streams.append(client)
        }
        // The instance's own table: the third concurrent stream is refused.
        #expect(SharedFixture.status(proxy.port) == 503)
        #expect(try proxy.metrics().value("sluice_shared_state_policy_applied_total", ["policy": "local"]) >= 3)
    }

    @Test func aReloadKeepsWhatTheInstanceHoldsAndStoppingGivesItBack() throws {
        let redis = try RedisTestServer()
        let text = SharedFixture.filterFile(chain: """
            - filter: connection_manager
              config: { max_streams: 100, shared: { batch: 10, hold: 10s } }
            - filter: token_bucket
              config: { capacity: 100, refill_per_second: 0, shared: { batch: 10, hold: 10s } }
            """, redis: redis)
        // A reload writes the file: a path of its own, not the working directory.
        let proxy = try ProxyHarness(filterFile: text, path: ProxyHarness.temporaryFilterFilePath())
        var stopped = false
        defer { if !stopped { proxy.stop() } }
        let level = { try redis.command("HGET", "sluice:tb:{main}:token_bucket:127.0.0.1", "level").text.flatMap(Double.init) }
        let slots = { try redis.command("ZCARD", "sluice:cm:{main}:connection_manager:all").integerValue }
        #expect(SharedFixture.status(proxy.port) == 200)
        #expect(try level() == 90 && slots() == 1)
        // A reload that changes nothing of the limits keeps the slice and the block: no script.
        let before = try Self.scriptCalls(redis)
        #expect(try proxy.reload(filterFile: text + "# touched\n").get() == 2)
        #expect(SharedFixture.status(proxy.port) == 200)
        #expect(try Self.scriptCalls(redis) == before)
        // Stopping gives back the 8 unspent tokens and the block's slot at once, not after `hold`.
        proxy.stop()
        stopped = true
        #expect(try level() == 98)
        #expect(try slots() == 0)
    }

    @Test func batchedStreamBlocksNeverAdmitMoreThanTheLimitUnderConcurrentLoad() throws {
        let (redis, proxies) = try SharedFixture.start(3, chain: """
            - filter: connection_manager
              config: { max_streams: 20, shared: { batch: 4, hold: 5s } }
            """)
        defer { proxies.forEach { $0.stop() }; redis.stop() }
        let ports = proxies.map(\.port)
        // 45 long streams opened at once, 15 on each proxy.
        /// The streams as they were opened, from many threads.
        final class Opened: @unchecked Sendable {
            private let lock = NSLock()
            private var items: [(TestClient?, Int)] = []
            func add(_ item: (TestClient?, Int)) { lock.withLock { items.append(item) } }
            var all: [(TestClient?, Int)] { lock.withLock { items } }
        }
        let opened = Opened()
        DispatchQueue.concurrentPerform(iterations: 45) { i in
            let result: (TestClient?, Int)
            do {
                let client = try TestClient.startLongStream(port: ports[i % 3])
                let status = try client.readHead(timeout: .seconds(10)).status
                if status != 200 { client.close() }
                result = (status == 200 ? client : nil, status)
            } catch {
                result = (nil, -1)
            }
            opened.add(result)
        }
        let results = opened.all
        defer { results.forEach { $0.0?.close() } }
        let admitted = results.filter { $0.1 == 200 }.count
        #expect(results.allSatisfy { $0.1 == 200 || $0.1 == 503 }, "\(results.map(\.1))")
        // Zero over-admission; at most 3 instances × 4 free slots held where no stream needs them.
        #expect(admitted <= 20 && admitted >= 20 - 3 * 4, "\(admitted) admitted")
        #expect(try redis.command("ZCARD", "sluice:cm:{main}:connection_manager:all").integerValue ?? 99 <= 20)
    }

    @Test func tokensModeOverThreeProxiesNeverLosesOrDoubleSpendsTokens() throws {
        let (redis, proxies) = try SharedFixture.start(3, chain: """
            - filter: token_bucket
              config: { mode: tokens, capacity: 600, refill_per_second: 0, shared: { batch: 100, hold: 300ms } }
            """)
        defer { proxies.forEach { $0.stop() }; redis.stop() }
        // Each request reserves its estimate (prompt + max_tokens 20) and is charged, at the end, what
        // the stream reported: 6 prompt + 10 completion tokens.
        let json = TestClient.chatRequest(includeUsage: true, maxTokens: 20)
        let statuses = TestClient.statusesAtOnce(60, ports: proxies.map(\.port), json: json)
        let admitted = statuses.filter { $0 == 200 }.count
        #expect(statuses.count == 60 && statuses.allSatisfy { $0 == 200 || $0 == 429 } && admitted >= 10, "\(admitted) admitted")
        // Once every slice aged out and went back, the bucket holds exactly the capacity less what was used.
        let key = "sluice:tb:{main}:token_bucket:127.0.0.1"
        var level: Double?
        let deadline = ContinuousClock.now + .seconds(3)
        repeat {
            level = try redis.command("HGET", key, "level").text.flatMap(Double.init)
            if level != Double(600 - 16 * admitted) { Thread.sleep(forTimeInterval: 0.02) }
        } while level != Double(600 - 16 * admitted) && ContinuousClock.now < deadline
        #expect(level == Double(600 - 16 * admitted), "level \(String(describing: level)), \(admitted) admitted")
    }

    @Test func aBatchedAdmissionBlockAnswersWhileRedisIsDownAndClosedRefusesOnceItIsFull() throws {
        let (redis, proxies) = try SharedFixture.start(1, chain: """
            - filter: admission
              config: { max_active_streams: 5, queue: { max_wait: 2s }, shared: { batch: 2, hold: 10s } }
            """, settings: "on_failure: closed")
        let proxy = proxies[0]
        defer { proxy.stop() }
        // One slot leased, free again once the request ended.
        #expect(SharedFixture.status(proxy.port) == 200)
        redis.stop()
        #expect(SharedFixture.status(proxy.port) == 200)
        // A stream holds that slot: the next request needs a grow, which Redis cannot answer.
        let stream = try TestClient.startLongStream(port: proxy.port)
        defer { stream.close() }
        #expect(try stream.readHead(timeout: .seconds(5)).status == 200)
        let started = ContinuousClock.now
        #expect(SharedFixture.status(proxy.port) == 503)
        #expect(ContinuousClock.now - started < .seconds(1))
        #expect(try proxy.metrics().value("sluice_shared_state_policy_applied_total", ["policy": "closed"]) >= 1)
    }
}
