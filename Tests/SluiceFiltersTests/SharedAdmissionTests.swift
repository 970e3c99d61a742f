import Foundation
import SluiceHTTP
import SluiceTesting
import Testing

@Suite("admission and connection_manager shared through Redis", .serialized,
       .enabled(if: RedisTestServer.isInstalled, "redis-server is not installed"))
struct SharedAdmissionTests {
    /// Sends a long streamed request (about 100 s) and returns its client with the head's status.
    static func startStream(_ port: Int) throws -> TestClient {
        let client = try TestClient(port: port)
        try client.send(HTTPRequestHead(method: "POST", target: "/v1/chat/completions", headers: HTTPHeaders([
            ("host", "x"), ("content-type", "application/json"), ("x-mock-tokens", "1000"), ("x-mock-tps", "10"),
        ])), body: Array(TestClient.chatRequest().utf8))
        return client
    }

    @Test func maxActiveStreamsCountsEveryInstanceAndAWaiterGetsTheNextFreeSlot() throws {
        let redis = try RedisTestServer()
        let text = SharedFixture.filterFile(chain: """
            - filter: admission
              config: { max_active_streams: 3, queue: { max_wait: 3s }, shared: true }
            """, redis: redis)
        let proxies = try SharedFixture.proxies(2, text)
        defer { proxies.forEach { $0.stop() } }
        var streams: [TestClient] = []
        defer { streams.forEach { $0.close() } }
        for port in [proxies[0].port, proxies[0].port, proxies[1].port] {
            let client = try Self.startStream(port)
            #expect(try client.readHead(timeout: .seconds(5)).status == 200)
            streams.append(client)
        }
        // The fourth waits on the second proxy although that proxy runs only one stream itself.
        let waiter = try Self.startStream(proxies[1].port)
        defer { waiter.close() }
        #expect(throws: TestClientError.self) { try waiter.readHead(timeout: .milliseconds(400)) }
        // A stream ending on the first proxy frees a global slot for it.
        let freedAt = ContinuousClock.now
        streams.removeFirst().close()
        #expect(try waiter.readHead(timeout: .seconds(2)).status == 200)
        #expect(ContinuousClock.now - freedAt < .seconds(1))
        #expect(try redis.command("ZCARD", "sluice:adm:{main:admission}:all").integerValue == 3)
    }

    @Test func aWaiterPastMaxWaitGets503QueueTimeout() throws {
        let redis = try RedisTestServer()
        let text = SharedFixture.filterFile(chain: """
            - filter: admission
              config: { max_active_streams: 1, queue: { max_wait: 300ms }, shared: true }
            """, redis: redis)
        let proxies = try SharedFixture.proxies(2, text)
        defer { proxies.forEach { $0.stop() } }
        let holder = try Self.startStream(proxies[0].port)
        defer { holder.close() }
        #expect(try holder.readHead(timeout: .seconds(5)).status == 200)
        let started = ContinuousClock.now
        let refused = try TestClient.post(port: proxies[1].port, path: "/v1/chat/completions", json: TestClient.chatRequest())
        #expect(refused.head.status == 503)
        #expect(refused.bodyText.contains("queue"))
        #expect(ContinuousClock.now - started < .seconds(1))
    }

    @Test func connectionManagerLeasesAreReleasedHoweverTheStreamEnds() throws {
        let redis = try RedisTestServer()
        let text = SharedFixture.filterFile(chain: """
            - filter: connection_manager
              config: { max_streams: 2, shared: true }
            """, redis: redis)
        let proxies = try SharedFixture.proxies(2, text)
        defer { proxies.forEach { $0.stop() } }
        // Completed, client gone, upstream reset: every lease comes back.
        #expect(SharedFixture.status(proxies[0].port) == 200)
        let gone = try Self.startStream(proxies[1].port)
        #expect(try gone.readHead(timeout: .seconds(5)).status == 200)
        gone.close()
        #expect(SharedFixture.status(proxies[1].port, headers: [("x-mock-reset-after", "2")]) == 200)
        let key = "sluice:cm:{main:connection_manager}:all"
        var count: Int64? = -1
        let deadline = ContinuousClock.now + .seconds(3)
        while count != 0 && count != nil, ContinuousClock.now < deadline {
            count = try redis.command("ZCARD", key).integerValue
        }
        #expect(count == 0)
        // And the limit of 2 holds across the two proxies.
        let a = try Self.startStream(proxies[0].port)
        defer { a.close() }
        let b = try Self.startStream(proxies[1].port)
        defer { b.close() }
        #expect(try a.readHead(timeout: .seconds(5)).status == 200)
        #expect(try b.readHead(timeout: .seconds(5)).status == 200)
        #expect(SharedFixture.status(proxies[0].port) == 503)
        #expect(SharedFixture.status(proxies[1].port) == 503)
    }
}
