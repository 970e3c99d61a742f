import SluiceRedis
import SluiceTesting
import Testing

@Suite("Redis Cluster slots and redirects")
struct RedisClusterRoutingTests {
    @Test func slotsFollowCRC16AndHashTags() {
        // CRC-16/XMODEM's check value for "123456789" is 0x31C3.
        #expect(RedisKeySlot.of("123456789") == 0x31C3 % 16384)
        #expect(RedisKeySlot.of("{user1000}.following") == RedisKeySlot.of("{user1000}.followers"))
        #expect(RedisKeySlot.of("sluice:tb:{main}:token_bucket:x") == RedisKeySlot.of("main"))
        // An empty tag does not count: the whole key is hashed.
        #expect(RedisKeySlot.of("foo{}{bar}") != RedisKeySlot.of("bar"))
        #expect(RedisKeySlot.of("foo{{bar}}zap") == RedisKeySlot.of("{bar"))
        #expect(RedisKeySlot.of("foo{bar}{zap}") == RedisKeySlot.of("bar"))
    }

    @Test func redirectsAreReadFromErrorReplies() {
        #expect(RedisRedirect(errorMessage: "MOVED 3999 127.0.0.1:6381")
                == RedisRedirect(errorMessage: "MOVED 3999 127.0.0.1:6381"))
        let moved = RedisRedirect(errorMessage: "MOVED 3999 127.0.0.1:6381")
        #expect(moved?.kind == .moved && moved?.slot == 3999 && moved?.host == "127.0.0.1" && moved?.port == 6381)
        let ask = RedisRedirect(errorMessage: "ASK 12182 ::1:7002")
        #expect(ask?.kind == .ask && ask?.host == "::1" && ask?.port == 7002)
        #expect(RedisRedirect(errorMessage: "MOVED 1 :7000")?.host == "")
        for notOne in ["NOSCRIPT No matching script", "MOVED 16384 h:1", "MOVED x h:1", "ASK 1 h", "MOVED 1 h:0", "ERR MOVED 1 h:1"] {
            #expect(RedisRedirect(errorMessage: notOne) == nil, "\(notOne)")
        }
    }

    @Test(.enabled(if: RedisTestServer.isInstalled, "redis-server is not installed"))
    func ourSlotIsTheClustersSlot() throws {
        let cluster = try RedisTestCluster(nodes: 3)
        var generator = SystemRandomNumberGenerator()
        var keys = ["", "a", "{", "}", "{}", "a{b}c", "sluice:cm:{main}:connection_manager:all", "é{ü}"]
        for _ in 0..<200 {
            let length = Int.random(in: 0...24, using: &generator)
            keys.append(String((0..<length).map { _ in "ab{}:xyz01".randomElement(using: &generator)! }))
        }
        for key in keys {
            let theirs = try cluster.nodes[0].command("CLUSTER", "KEYSLOT", key).integerValue
            #expect(theirs.map(Int.init) == RedisKeySlot.of(key), "\(key)")
        }
    }
}
