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
}
