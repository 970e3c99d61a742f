import Foundation
import Synchronization
import SluiceTesting
import Testing

@Suite("shared limits on a Redis Cluster", .serialized,
       .enabled(if: RedisTestServer.isInstalled, "redis-server is not installed"))
struct SharedClusterTests {
    /// Two proxies whose `url` names a node that does not serve the chain's slot: every command
    /// first meets a MOVED, then goes to the owner. Mid-run the slot moves to the third node (ASK
    /// while its keys are on their way, MOVED after), and the shared bucket stays exact throughout.
    @Test func sharedLimitsFollowTheChainsSlotAcrossNodesAndAMove() throws {
        let cluster = try RedisTestCluster(nodes: 3)
        let slot = Int(try cluster.nodes[0].command("CLUSTER", "KEYSLOT", "{main}").integerValue ?? -1)
        let owner = try cluster.owner(of: slot)
        let seed = (owner + 1) % 3, third = (owner + 2) % 3
        let text = ProxyHarness.filterFile(chain: SharedFixture.threeSharedLimits(capacity: 5)) + """
            shared_state:
              url: redis://127.0.0.1:\(cluster.nodes[seed].port)/0
              timeout: 1s
              on_failure: closed

            """
        let proxies = try (0..<2).map { _ in try ProxyHarness(filterFile: text) }
        defer { proxies.forEach { $0.stop() } }

        let first = (0..<3).map { i in SharedFixture.status(proxies[i % 2].port) }
        #expect(first == [200, 200, 200])
        #expect(try cluster.nodes[owner].command("EXISTS", "sluice:tb:{main}:token_bucket:127.0.0.1").integerValue == 1)
        #expect(try cluster.nodes[seed].command("DBSIZE").integerValue == 0)
        // A live stream holds leases, so every key of the chain's batch exists while it moves.
        let live = try TestClient.startLongStream(port: proxies[0].port)
        defer { live.close() }
        #expect(try live.readHead(timeout: .seconds(5)).status == 200)

        // The keys move to the third node; until the move ends, the old owner answers ASK, and the
        // new one serves the batch after ASKING.
        try cluster.startMoving(slot, from: owner, to: third)
        #expect(try cluster.nodes[owner].command("DBSIZE").integerValue == 0)
        #expect(SharedFixture.status(proxies[1].port) == 200)
        try cluster.finishMoving(slot, to: third)
        // The bucket moved with its level: 5 taken in all, so both proxies now refuse.
        #expect(SharedFixture.status(proxies[0].port) == 429)
        #expect(SharedFixture.status(proxies[1].port) == 429)
        #expect(try cluster.nodes[third].command("HGET", "sluice:tb:{main}:token_bucket:127.0.0.1", "level").text == "0")
        // The live stream's leases are given back on the node that serves them now.
        live.close()
        #expect(SharedFixture.waitUntil {
            ((try? cluster.nodes[third].command("ZCARD", "sluice:cm:{main}:connection_manager:all"))?.integerValue ?? -1) == 0
                && ((try? cluster.nodes[third].command("ZCARD", "sluice:adm:{main}:admission:all"))?.integerValue ?? -1) == 0
        })
    }

    /// While a slot moves, a batch whose keys are only partly on the new node gets TRYAGAIN: the
    /// proxy asks again until the move ends, within its timeout.
    @Test func aBatchAnsweredTryAgainDuringAMoveIsAskedAgain() throws {
        let cluster = try RedisTestCluster(nodes: 3)
        let slot = Int(try cluster.nodes[0].command("CLUSTER", "KEYSLOT", "{main}").integerValue ?? -1)
        let owner = try cluster.owner(of: slot)
        let text = ProxyHarness.filterFile(chain: """
            - filter: connection_manager
              config: { max_streams: 10, shared: true }
            - filter: token_bucket
              config: { capacity: 5, refill_per_second: 0, shared: true }
            """) + """
            shared_state:
              url: redis://127.0.0.1:\(cluster.nodes[owner].port)/0
              timeout: 2s
              on_failure: closed

            """
        let proxy = try ProxyHarness(filterFile: text)
        defer { proxy.stop() }
        #expect(SharedFixture.status(proxy.port) == 200)
        #expect(SharedFixture.waitUntil {
            ((try? cluster.nodes[owner].command("EXISTS", "sluice:cm:{main}:connection_manager:all"))?.integerValue ?? -1) == 0
        })
        // Only the bucket exists: on the new node the lease sets are missing, hence TRYAGAIN.
        try cluster.startMoving(slot, from: owner, to: (owner + 1) % 3)
        let port = proxy.port
        let answer = Mutex<Int?>(nil)
        let request = Thread {
            let status = SharedFixture.status(port)  // outside the lock: the test thread reads it meanwhile
            answer.withLock { $0 = status }
        }
        request.start()
        // The new node has answered TRYAGAIN a few times: the proxy is asking again.
        let target = cluster.nodes[(owner + 1) % 3]
        #expect(SharedFixture.waitUntil {
            let stats = (try? target.command("INFO", "errorstats"))?.text ?? ""
            let count = stats.split(separator: "\r\n").first { $0.hasPrefix("errorstat_TRYAGAIN:count=") }
            return (count.flatMap { Int($0.dropFirst("errorstat_TRYAGAIN:count=".count)) } ?? 0) >= 3
        })
        #expect(answer.withLock { $0 } == nil)
        try cluster.finishMoving(slot, to: (owner + 1) % 3)
        #expect(SharedFixture.waitUntil { answer.withLock { $0 } != nil })
        #expect(answer.withLock { $0 } == 200)
        #expect(try cluster.nodes[(owner + 1) % 3].command("HGET", "sluice:tb:{main}:token_bucket:127.0.0.1", "level").text == "3")
    }
}
