import Foundation
import SluiceTesting
import Testing

@Suite("admission and connection_manager shared through Redis", .serialized,
       .enabled(if: RedisTestServer.isInstalled, "redis-server is not installed"))
struct SharedAdmissionTests {
    @Test func maxActiveStreamsCountsEveryInstanceAndAWaiterGetsTheNextFreeSlot() throws {
        let (redis, proxies) = try SharedFixture.start(2, chain: """
            - filter: admission
              config: { max_active_streams: 3, queue: { max_wait: 3s }, shared: true }
            """)
        defer { proxies.forEach { $0.stop() } }
        var streams: [TestClient] = []
        defer { streams.forEach { $0.close() } }
        for port in [proxies[0].port, proxies[0].port, proxies[1].port] {
            let client = try TestClient.startLongStream(port: port)
            #expect(try client.readHead(timeout: .seconds(5)).status == 200)
            streams.append(client)
        }
        // The fourth waits on the second proxy although that proxy runs only one stream itself.
        let waiter = try TestClient.startLongStream(port: proxies[1].port)
        defer { waiter.close() }
        #expect(throws: TestClientError.self) { try waiter.readHead(timeout: .milliseconds(400)) }
        // A stream ending on the first proxy frees a global slot for it.
        let freedAt = ContinuousClock.now
        streams.removeFirst().close()
        #expect(try waiter.readHead(timeout: .seconds(2)).status == 200)
        #expect(ContinuousClock.now - freedAt < .seconds(1))
        #expect(try redis.command("ZCARD", "sluice:adm:{main}:admission:all").integerValue == 3)
    }

    @Test func aWaiterPastMaxWaitGets503QueueTimeout() throws {
        // The server lives as long as `redis` does: name it, or it stops at once.
        let (redis, proxies) = try SharedFixture.start(2, chain: """
            - filter: admission
              config: { max_active_streams: 1, queue: { max_wait: 300ms }, shared: true }
            """)
        defer { proxies.forEach { $0.stop() }; redis.stop() }
        let holder = try TestClient.startLongStream(port: proxies[0].port)
        defer { holder.close() }
        #expect(try holder.readHead(timeout: .seconds(5)).status == 200)
        let started = ContinuousClock.now
        let refused = try TestClient.post(port: proxies[1].port, path: "/v1/chat/completions", json: TestClient.chatRequest())
        #expect(refused.head.status == 503)
        #expect(refused.bodyText.contains("queue"))
        #expect(ContinuousClock.now - started < .seconds(1))
    }

    @Test func connectionManagerLeasesAreReleasedHoweverTheStreamEnds() throws {
        let (redis, proxies) = try SharedFixture.start(2, chain: """
            - filter: connection_manager
              config: { max_streams: 2, shared: true }
            """)
        defer { proxies.forEach { $0.stop() } }
        // Completed, client gone, upstream reset: every lease comes back.
        #expect(SharedFixture.status(proxies[0].port) == 200)
        let gone = try TestClient.startLongStream(port: proxies[1].port)
        #expect(try gone.readHead(timeout: .seconds(5)).status == 200)
        gone.close()
        #expect(SharedFixture.status(proxies[1].port, headers: [("x-mock-reset-after", "2")]) == 200)
        let key = "sluice:cm:{main}:connection_manager:all"
        var count: Int64? = -1
        let deadline = ContinuousClock.now + .seconds(3)
        while count != 0 && count != nil, ContinuousClock.now < deadline {
            count = try redis.command("ZCARD", key).integerValue
        }
        #expect(count == 0)
        // And the limit of 2 holds across the two proxies.
        let a = try TestClient.startLongStream(port: proxies[0].port)
        defer { a.close() }
        let b = try TestClient.startLongStream(port: proxies[1].port)
        defer { b.close() }
        #expect(try a.readHead(timeout: .seconds(5)).status == 200)
        #expect(try b.readHead(timeout: .seconds(5)).status == 200)
        #expect(SharedFixture.status(proxies[0].port) == 503)
        #expect(SharedFixture.status(proxies[1].port) == 503)
    }
}
