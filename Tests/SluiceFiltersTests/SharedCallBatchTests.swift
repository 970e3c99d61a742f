import Foundation
import SluiceTesting
import Testing

/// How often Redis ran `commands` (from scripts included) since its statistics were last reset.
private func calls(_ redis: RedisTestServer, _ commands: String...) throws -> Int {
    let stats = try redis.command("INFO", "commandstats").text ?? ""
    return stats.split(separator: "\r\n").reduce(0) { total, line in
        guard commands.contains(where: { line.hasPrefix("cmdstat_\($0):") }),
              let count = line.split(separator: "=").dropFirst().first?.split(separator: ",").first,
              let n = Int(count) else { return total }
        return total + n
    }
}

@Suite("a run of shared filters asks Redis once per request", .serialized,
       .enabled(if: RedisTestServer.isInstalled, "redis-server is not installed"))
struct SharedCallBatchTests {
    /// Leases held for connection_manager and for admission, or -1 when Redis did not answer.
    private func leases(_ redis: RedisTestServer) -> [Int64] {
        ["sluice:cm:{main}:connection_manager:all", "sluice:adm:{main}:admission:all"].map { key in
            (try? redis.command("ZCARD", key))?.integerValue ?? -1
        }
    }

    @Test func threeSharedLimitsCostOneScriptToAdmitAndTheRefusalStopsTheRest() throws {
        let (redis, proxies) = try SharedFixture.start(1, chain: SharedFixture.threeSharedLimits(capacity: 1))
        defer { proxies.forEach { $0.stop() } }
        try redis.command("CONFIG", "RESETSTAT")
        #expect(SharedFixture.status(proxies[0].port) == 200)
        #expect(SharedFixture.waitUntil { leases(redis) == [0, 0] })
        // One script for the three limits, then one for the two leases given back in the same turn.
        #expect(try calls(redis, "eval", "evalsha") == 2)
        #expect(try calls(redis, "zadd") == 4)  // two leases, each in its "all" and client sets

        // The bucket is empty: the batch stops at token_bucket, so admission takes no lease, and the
        // lease connection_manager took before the refusal is given back.
        try redis.command("CONFIG", "RESETSTAT")
        #expect(SharedFixture.status(proxies[0].port) == 429)
        #expect(SharedFixture.waitUntil { leases(redis) == [0, 0] })
        #expect(try calls(redis, "eval", "evalsha") == 2)
        #expect(try calls(redis, "zadd") == 2)
    }

    @Test func whatTheBatchGrantsAfterTheClientLeftIsGivenBack() throws {
        let redis = try RedisTestServer()
        let text = SharedFixture.filterFile(chain: SharedFixture.threeSharedLimits(capacity: 100), redis: redis)
            .replacingOccurrences(of: "timeout: 100ms", with: "timeout: 2s")
        let proxy = try ProxyHarness(filterFile: text)
        defer { proxy.stop() }
        #expect(SharedFixture.status(proxy.port) == 200)  // the connections are up and the scripts known

        // Redis stalls while a request arrives and its client leaves: the exchange ends before the
        // batch's answer, which grants both leases.
        try redis.command("CONFIG", "RESETSTAT")
        let port = redis.port
        let sleeper = Thread { _ = try? RedisTestServer.command(["DEBUG", "SLEEP", "0.5"], port: port) }
        sleeper.start()
        Thread.sleep(forTimeInterval: 0.05)
        let client = try TestClient.startLongStream(port: proxy.port)
        Thread.sleep(forTimeInterval: 0.1)
        client.close()
        // Once Redis wakes, the batch grants both leases (each in its two sets), and the exchange
        // that ended meanwhile gives them back.
        #expect(SharedFixture.waitUntil { ((try? calls(redis, "zadd")) ?? 0) == 4 })
        #expect(SharedFixture.waitUntil { leases(redis) == [0, 0] })
        #expect(SharedFixture.status(proxy.port) == 200)
    }
}
