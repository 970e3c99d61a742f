import Foundation
import SluiceHTTP
import SluiceTesting
import Testing

/// Three `sluice run` processes sharing one real `redis-server` with stream limits in batch mode
/// (`shared: { batch: N }`): each holds a block of slots and hands them out locally.
@Suite("Batched shared limits across sluice processes", .serialized,
       .enabled(if: RedisTestServer.isInstalled, "redis-server is not installed"))
struct SharedBatchProcessTests {
    @Test func batchedMaxStreamsPerClientHoldsExactlyAndAKilledInstancesBlockExpiresWithinTheTTL() throws {
        let redis = try RedisTestServer()
        let sluices = try SharedLimitsProcessTests.start(3, SharedLimitsProcessTests.filterFile(redis: redis, chain: """
            - filter: connection_manager
              config: { max_streams_per_client: 5, key: global, shared: { batch: 5, hold: 300ms } }
            """))
        defer { for s in sluices where s.process.isRunning { s.process.terminate() } }
        let ports = sluices.map(\.port)
        var open: [TestClient] = []
        defer { open.forEach { $0.close() } }
        /// Opens a stream on `port`, keeps it when admitted, and answers the status.
        func stream(_ port: Int) throws -> Int {
            let (client, status) = try SharedLimitsProcessTests.openStream(port)
            if let client { open.append(client) }
            return status
        }
        // 5 streams over the three: 2, 2, 1.
        for (i, port) in [ports[0], ports[0], ports[1], ports[1], ports[2]].enumerated() {
            #expect(try stream(port) == 200, "stream \(i + 1)")
        }
        // The 6th concurrent stream anywhere gets 429, and Redis holds exactly 5 slots.
        for port in ports { #expect(try stream(port) == 429) }
        #expect(try redis.command("ZCARD", "sluice:cm:{c}:connection_manager:all").integerValue == 5)

        // SIGKILL the first instance with its 2 streams live: its block is free again within the TTL.
        kill(sluices[0].process.processIdentifier, SIGKILL)
        sluices[0].process.waitUntilExit()
        let killed = ContinuousClock.now
        var admittedAfter: [Duration] = []
        while admittedAfter.count < 2, ContinuousClock.now - killed < .seconds(5) {
            if try stream(ports[1]) == 200 {
                admittedAfter.append(ContinuousClock.now - killed)
            } else {
                Thread.sleep(forTimeInterval: 0.05)
            }
        }
        // lease_ttl is 1 s and the block is renewed every third of it; the rest is polling and a busy machine.
        #expect(admittedAfter.count == 2)
        #expect(admittedAfter.allSatisfy { $0 <= .milliseconds(2000) }, "\(admittedAfter)")
        // The survivors' counts are exact: 5 live again, the next stream anywhere gets 429.
        #expect(try stream(ports[1]) == 429)
        #expect(try stream(ports[2]) == 429)
        #expect(try redis.command("ZCARD", "sluice:cm:{c}:connection_manager:all").integerValue == 5)
    }

    @Test func aBatchedAdmissionBudgetCountsEveryInstanceAndGivesIdleSlotsBack() throws {
        let redis = try RedisTestServer()
        let sluices = try SharedLimitsProcessTests.start(3, SharedLimitsProcessTests.filterFile(redis: redis, chain: """
            - filter: admission
              config: { max_active_streams: 4, queue: { max_wait: 200ms }, shared: { batch: 2, hold: 200ms } }
            """))
        defer { for s in sluices where s.process.isRunning { s.process.terminate() } }
        let ports = sluices.map(\.port)
        var open: [TestClient] = []
        defer { open.forEach { $0.close() } }
        for port in [ports[0], ports[1], ports[2], ports[0]] {
            let (client, status) = try SharedLimitsProcessTests.openStream(port)
            #expect(status == 200)
            if let client { open.append(client) }
        }
        // Four live: the fifth waits on every instance and times out.
        for port in ports { #expect(try SharedLimitsProcessTests.openStream(port).1 == 503) }
        // Streams that end free their slots locally; once idle for `hold` they go back to Redis,
        // where another instance takes them.
        open.removeFirst().close()
        open.removeFirst().close()
        var admitted = 0
        let deadline = ContinuousClock.now + .seconds(3)
        while admitted < 2, ContinuousClock.now < deadline {
            let (client, status) = try SharedLimitsProcessTests.openStream(ports[2])
            if let client { open.append(client); admitted += 1 } else { #expect(status == 503) }
        }
        #expect(admitted == 2)
        #expect(try redis.command("ZCARD", "sluice:adm:{c}:admission:all").integerValue ?? 0 <= 4)
    }

    @Test func sluiceCheckPositionsEveryProblemOfABatchSetting() throws {
        let path = try CommandLineTests.writeTemp("""
            listeners:
              - address: 127.0.0.1:0
            shared_state: { url: "redis://127.0.0.1:6379/0" }
            upstreams:
              m: { endpoints: ["mock://local"] }
            routes:
              - { path_prefix: /, chain: c, upstream: m }
            chains:
              c:
                - filter: connection_manager
                  config: { max_streams_per_client: 5, shared: { batch: 6 } }
                - filter: token_bucket
                  config: { capacity: 10, refill_per_second: 0, shared: { batch: 0, hold: 1h, extra: 1 } }
                - filter: admission
                  config: { max_active_streams: 10, shared: { hold: 1s } }
                - filter: circuit_breaker
                  config: { shared: { batch: 3 } }
            """, name: "batch.yaml")
        let r = try CommandLineTests.run(["check", path])
        #expect(r.status == 1)
        let lines = r.stdout.split(separator: "\n").map(String.init)
        #expect(lines == [
            "\(path):11:61: 'batch' (6) must not be larger than 'max_streams_per_client' (5)",
            "\(path):13:70: 'batch' must be between 1 and 1000000000000, got 0",
            "\(path):13:79: 'hold' must be between 10ms and 1m, got 1h",
            "\(path):13:83: unknown key 'extra' (known keys: batch, hold)",
            "\(path):15:49: missing required key 'batch'",
            "\(path):17:25: 'shared' takes true or false here: batch mode ({ batch: N }) applies to token_bucket, "
                + "connection_manager and admission",
        ], "\(r.stdout)")
        // Without a shared_state section, the batch form is refused like `shared: true`.
        let bare = try CommandLineTests.writeTemp("""
            listeners:
              - address: 127.0.0.1:0
            upstreams:
              m: { endpoints: ["mock://local"] }
            routes:
              - { path_prefix: /, chain: c, upstream: m }
            chains:
              c:
                - filter: token_bucket
                  config: { capacity: 10, refill_per_second: 0, shared: { batch: 5 } }
            """, name: "bare.yaml")
        let refused = try CommandLineTests.run(["check", bare])
        #expect(refused.status == 1)
        #expect(refused.stdout.contains("\(bare):10:61: 'shared: { batch: ... }' needs a top-level 'shared_state:' section"),
                "\(refused.stdout)")
    }
}
