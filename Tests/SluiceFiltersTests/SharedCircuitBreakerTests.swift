import Foundation
import SluiceTesting
import Testing

@Suite("circuit_breaker open state shared through Redis", .serialized,
       .enabled(if: RedisTestServer.isInstalled, "redis-server is not installed"))
struct SharedCircuitBreakerTests {
    @Test func anEndpointOneInstanceOpensIsOpenForAll() throws {
        let redis = try RedisTestServer()
        // Every proxy points at its own in-process mock named mock://local: the same endpoint id
        // ("fake/mock://local?…") everywhere, as when replicas share one file.
        let text = SharedFixture.filterFile(chain: """
            - filter: circuit_breaker
              config: { failures: 2, window: 10s, open_duration: 60s, shared: true }
            """, redis: redis).replacingOccurrences(of: "{{upstream}}", with: "mock://local?ttft=5ms&tokens=2")
        let proxies = try SharedFixture.proxies(2, text)
        defer { proxies.forEach { $0.stop() } }
        #expect(SharedFixture.status(proxies[1].port) == 200)  // B has seen the endpoint, closed
        // Two failures on A open its breaker, and the open state goes to Redis.
        for _ in 0..<2 { #expect(SharedFixture.status(proxies[0].port, headers: [("x-mock-status", "503")]) == 503) }
        let refusedOnA = try TestClient.post(port: proxies[0].port, path: "/v1/chat/completions", json: TestClient.chatRequest())
        #expect(refusedOnA.bodyText.contains("circuit open"))
        // A's breaker wrote the open state without waiting for Redis (fire and forget): once it is
        // there, B, which never saw a failure, refuses at once.
        let key = "sluice:cb:{main}:circuit_breaker:fake/mock://local?ttft=5ms&tokens=2"
        #expect(SharedFixture.waitUntil { ((try? redis.command("PTTL", key))?.integerValue ?? 0) > 0 })
        let refusedOnB = try TestClient.post(port: proxies[1].port, path: "/v1/chat/completions", json: TestClient.chatRequest())
        #expect(refusedOnB.head.status == 503)
        #expect(refusedOnB.bodyText.contains("circuit open"))
        let left = try redis.command("PTTL", key).integerValue ?? 0
        #expect(left > 0 && left <= 60_000)
    }
}
