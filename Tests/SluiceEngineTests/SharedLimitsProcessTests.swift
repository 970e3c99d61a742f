import Foundation
import SluiceHTTP
import SluiceTesting
import Testing

/// Three `sluice run` processes sharing one real `redis-server`, each behind its own port, as
/// replicas behind a load balancer.
@Suite("Shared limits across sluice processes", .serialized, .enabled(if: RedisTestServer.isInstalled, "redis-server is not installed"))
struct SharedLimitsProcessTests {
    static func filterFile(redis: RedisTestServer, chain: String, leaseTTL: String = "1s") -> String {
        """
        listeners:
          - address: 127.0.0.1:0
        admin:
          address: 127.0.0.1:0
        access_log: { output: off }
        shared_state:
          url: redis://127.0.0.1:\(redis.port)/0
          timeout: 200ms
          lease_ttl: \(leaseTTL)
        upstreams:
          m: { endpoints: ["mock://local?ttft=10ms&tokens=3"] }
        routes:
          - { path_prefix: /, chain: c, upstream: m }
        chains:
          c:
        \(chain.split(separator: "\n").map { "    " + $0 }.joined(separator: "\n"))

        """
    }

    static func start(_ count: Int, _ text: String) throws -> [CommandLineTests.RunningSluice] {
        let path = try CommandLineTests.writeTemp(text, name: "shared.yaml")
        return try (0..<count).map { _ in
            try CommandLineTests.startRun(["--config", path, "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0", "--workers", "1"])
        }
    }

    /// A long stream (about 100 s) opened on `port`: its client once the head came, or the status of a refusal.
    static func openStream(_ port: Int) throws -> (TestClient?, Int) {
        let client = try TestClient.startLongStream(port: port)
        let head = try client.readHead(timeout: .seconds(5))
        if head.status == 200 { return (client, 200) }
        client.close()
        return (nil, head.status)
    }

    @Test func maxStreamsPerClientHoldsAcrossInstancesAndAKilledInstancesLeasesExpire() throws {
        let redis = try RedisTestServer()
        let sluices = try Self.start(3, Self.filterFile(redis: redis, chain: """
            - filter: connection_manager
              config: { max_streams_per_client: 5, key: global, shared: true }
            """))
        defer { for s in sluices where s.process.isRunning { s.process.terminate() } }
        let ports = sluices.map(\.port)
        var open: [(Int, TestClient)] = []
        defer { for (_, client) in open { client.close() } }
        /// Keeps an admitted stream open (a dropped client would end it) and returns the status.
        func keep(_ opened: (TestClient?, Int)) -> Int {
            if let client = opened.0 { open.append((0, client)) }
            return opened.1
        }
        // 5 streams over the three: 2, 2, 1.
        for (i, port) in [ports[0], ports[0], ports[1], ports[1], ports[2]].enumerated() {
            let (client, status) = try Self.openStream(port)
            #expect(status == 200, "stream \(i + 1)")
            if let client { open.append((port, client)) }
        }
        // The 6th concurrent stream anywhere gets 429.
        for port in ports { #expect(try keep(Self.openStream(port)) == 429) }

        // SIGKILL the first instance with its 2 streams live: its leases are free again within the TTL.
        kill(sluices[0].process.processIdentifier, SIGKILL)
        sluices[0].process.waitUntilExit()
        let killed = ContinuousClock.now
        // Each of its two leases frees one slot when it expires (they were renewed at different
        // moments, so they may expire up to a renewal period apart): the survivors take both.
        var admittedAfter: [Duration] = []
        while admittedAfter.count < 2, ContinuousClock.now - killed < .seconds(5) {
            let port = ports[1 + admittedAfter.count % 2]
            let (client, status) = try Self.openStream(port)
            if let client {
                open.append((port, client))
                admittedAfter.append(ContinuousClock.now - killed)
            } else {
                #expect(status == 429)
                Thread.sleep(forTimeInterval: 0.05)
            }
        }
        // lease_ttl is 1 s and a lease is renewed every third of it, so each lived at most 1 s past
        // the kill; the rest is the polling and a machine busy with other tests.
        #expect(admittedAfter.count == 2)
        #expect(admittedAfter.allSatisfy { $0 <= .milliseconds(2000) }, "\(admittedAfter)")
        // The survivors' counts are exact: 5 live again, the next stream anywhere gets 429.
        #expect(try keep(Self.openStream(ports[1])) == 429)
        #expect(try keep(Self.openStream(ports[2])) == 429)
        // A stream that ends gives its lease back at once.
        let ending = open.removeLast()
        ending.1.close()
        var freed = false
        let deadline = ContinuousClock.now + .seconds(2)
        while !freed, ContinuousClock.now < deadline {
            let (client, _) = try Self.openStream(ports[2])
            if let client { open.append((ports[2], client)); freed = true } else { Thread.sleep(forTimeInterval: 0.02) }
        }
        #expect(freed)
    }

    @Test func aSharedTokenBucketAdmitsExactlyItsCapacityOverThreeProcesses() throws {
        let redis = try RedisTestServer()
        let sluices = try Self.start(3, Self.filterFile(redis: redis, chain: """
            - filter: token_bucket
              config: { capacity: 17, refill_per_second: 0, shared: true }
            """))
        defer { for s in sluices where s.process.isRunning { s.process.terminate() } }
        let statuses = TestClient.statusesAtOnce(50, ports: sluices.map(\.port), json: TestClient.chatRequest())
        #expect(statuses.count == 50)
        #expect(statuses.filter { $0 == 200 }.count == 17)
        #expect(statuses.filter { $0 == 429 }.count == 33)
    }

    @Test func tokensModeNeverLosesOrDoubleSpendsTokensOverThreeProcesses() throws {
        let redis = try RedisTestServer()
        let sluices = try Self.start(3, Self.filterFile(redis: redis, chain: """
            - filter: token_bucket
              config: { mode: tokens, capacity: 400, refill_per_second: 0, shared: true }
            """))
        defer { for s in sluices where s.process.isRunning { s.process.terminate() } }
        // Each request reserves its estimate (prompt + max_tokens 20) and, at the end, is charged
        // what the stream reported: 6 prompt + 3 completion tokens.
        let json = TestClient.chatRequest(includeUsage: true, maxTokens: 20)
        let statuses = TestClient.statusesAtOnce(50, ports: sluices.map(\.port), json: json)
        let admitted = statuses.filter { $0 == 200 }.count
        #expect(statuses.count == 50 && admitted >= 10 && statuses.allSatisfy { $0 == 200 || $0 == 429 }, "\(admitted) admitted")
        // Once every settlement landed, the bucket holds exactly the capacity less what was used.
        let key = "sluice:tb:{c}:token_bucket:127.0.0.1"
        var level: Double?
        let deadline = ContinuousClock.now + .seconds(3)
        repeat {
            level = try redis.command("HGET", key, "level").text.flatMap(Double.init)
        } while level != Double(400 - 9 * admitted) && ContinuousClock.now < deadline
        #expect(level == Double(400 - 9 * admitted))
    }
}
