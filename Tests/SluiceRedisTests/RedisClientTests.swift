import Dispatch
import Foundation
import SluiceIO
@testable import SluiceRedis
import SluiceTesting
import Synchronization
import Testing

/// A loop on its own thread with one `RedisClient`, for tests that wait on the client's answers.
final class ClientOnLoop: @unchecked Sendable {
    let loop = EventLoop()
    private(set) var client: RedisClient!

    init(_ endpoint: RedisEndpoint) {
        _ = EventLoop.threadingReady
        client = RedisClient(loop: loop, endpoint: endpoint)
        WorkerThread.start(name: "redis-test") { [loop] in loop.run() }
    }

    /// Runs `body` on the loop thread and waits for the value it hands to its callback (10 s at most).
    func waitFor<T: Sendable>(_ body: @escaping @Sendable (RedisClient, @escaping @Sendable (T) -> Void) -> Void) -> T? {
        let result = Mutex<T?>(nil)
        let done = DispatchSemaphore(value: 0)
        loop.execute { [self] in
            body(self.client) { value in
                result.withLock { $0 = value }
                done.signal()
            }
        }
        guard done.wait(timeout: .now() + 10) == .success else { return nil }
        return result.withLock { $0 }
    }

    /// One command's outcome and how long it took.
    func send(_ command: RESPCommand) -> (RedisOutcome, Duration)? {
        waitFor { client, done in
            let started = ContinuousClock.now
            client.send(command) { outcome in done((outcome, ContinuousClock.now - started)) }
        }
    }

    func stop() {
        loop.execute { [self] in self.client.close() }
        loop.stop()
        loop.waitUntilFinished(timeout: .seconds(5))
    }
}

@Suite("Redis client against redis-server", .serialized, .enabled(if: RedisTestServer.isInstalled, "redis-server is not installed"))
struct RedisClientTests {
    static func endpoint(_ server: RedisTestServer, timeout: Duration = .milliseconds(200)) -> RedisEndpoint {
        RedisEndpoint(host: "127.0.0.1", port: server.port, commandTimeout: timeout,
                      backoff: ReconnectBackoff(first: .milliseconds(20), limit: .milliseconds(100)))
    }

    @Test func setsAndGetsAndPipelinesInOrder() throws {
        let server = try RedisTestServer()
        let client = ClientOnLoop(Self.endpoint(server))
        defer { client.stop() }
        #expect(client.send(RESPCommand("SET", "greeting", "hello"))?.0 == .reply(.simple("OK")))
        #expect(client.send(RESPCommand("GET", "greeting"))?.0 == .reply(.bulk(Array("hello".utf8))))
        // 200 commands written in one loop turn come back each to its own completion, in order.
        let answers: [Int64]? = client.waitFor { redis, done in
            final class Collected: @unchecked Sendable { var values: [Int64] = [] }
            let collected = Collected()
            for _ in 0..<200 {
                redis.send(RESPCommand("INCR", "counter")) { outcome in
                    collected.values.append(outcome.value?.integerValue ?? -1)
                    if collected.values.count == 200 { done(collected.values) }
                }
            }
        }
        #expect(answers == Array(1...200))
        #expect(try server.command("GET", "counter") == .bulk(Array("200".utf8)))
    }

    @Test func authenticatesAsAnACLUserAndSelectsTheDatabase() throws {
        let server = try RedisTestServer(arguments: ["--requirepass", "admin-secret"])
        try server.command("ACL", "SETUSER", "sluice", "on", ">sluice-secret", "~*", "+@all")
        var endpoint = Self.endpoint(server)
        endpoint.username = "sluice"
        endpoint.password = "sluice-secret"
        endpoint.database = 3
        let client = ClientOnLoop(endpoint)
        defer { client.stop() }
        #expect(client.send(RESPCommand("SET", "where", "db3"))?.0 == .reply(.simple("OK")))
        #expect(try server.command("SELECT", "3") == .simple("OK"))
        #expect(try server.command("GET", "where") == .null)  // `command` uses a fresh connection on db 0
        #expect(try server.command("ACL", "LOG") != .null)

        var wrong = Self.endpoint(server)
        wrong.username = "sluice"
        wrong.password = "not-it"
        let refused = ClientOnLoop(wrong)
        defer { refused.stop() }
        guard case .unavailable(let why)? = refused.send(RESPCommand("PING"))?.0 else {
            Issue.record("a wrong password must make commands unavailable")
            return
        }
        #expect(why.contains("WRONGPASS"))
        #expect(!why.contains("not-it"))
    }

    @Test func evaluatesScriptsBySHAAndLoadsThemWhenUnknown() throws {
        let server = try RedisTestServer()
        let client = ClientOnLoop(Self.endpoint(server))
        defer { client.stop() }
        let script = RedisScript("return redis.call('INCRBY', KEYS[1], ARGV[1])")
        let run: @Sendable () -> RedisOutcome? = {
            client.waitFor { redis, done in redis.evaluate(script, keys: ["n"], arguments: ["5"]) { done($0) } }
        }
        // The first use on a connection sends the source: one round trip, no NOSCRIPT first.
        #expect(run() == .reply(.integer(5)))
        let afterFirst = try server.command("INFO", "commandstats").text ?? ""
        #expect(afterFirst.contains("cmdstat_eval:calls=1,") && !afterFirst.contains("cmdstat_evalsha"))
        #expect(try server.command("SCRIPT", "EXISTS", script.sha1) == .array([.integer(1)]))
        #expect(run() == .reply(.integer(10)))  // EVALSHA
        try server.command("SCRIPT", "FLUSH")
        #expect(run() == .reply(.integer(15)))  // NOSCRIPT, then EVAL
    }

    @Test func aSlowServerTimesCommandsOutWithinTheTimeout() throws {
        let server = try RedisTestServer()
        let client = ClientOnLoop(Self.endpoint(server, timeout: .milliseconds(100)))
        defer { client.stop() }
        #expect(client.send(RESPCommand("PING"))?.0 == .reply(.simple("PONG")))
        let port = server.port
        let sleeper = Thread { _ = try? RedisTestServer.command(["DEBUG", "SLEEP", "1"], port: port) }
        sleeper.start()
        // PING until one lands inside DEBUG SLEEP (the sleeper's connection may take a while to start on a
        // loaded machine): that one must come back as a timeout, well before the server would answer it.
        var timedOut = false
        let deadline = ContinuousClock.now + .seconds(10)
        while !timedOut, ContinuousClock.now < deadline {
            let again = client.send(RESPCommand("PING"))
            #expect(again?.0 == .timeout || again?.0 == .reply(.simple("PONG")))
            timedOut = again?.0 == .timeout
            if timedOut { #expect(again!.1 < .seconds(1)) }
        }
        #expect(timedOut)
        // After the sleep the connection serves again, late answers dropped in order.
        var answered = false
        for _ in 0..<50 where !answered {
            answered = client.send(RESPCommand("PING"))?.0 == .reply(.simple("PONG"))
        }
        #expect(answered)
    }

    @Test func aStoppedServerFailsFastAndTheClientReconnectsWhenItReturns() throws {
        let server = try RedisTestServer()
        let client = ClientOnLoop(Self.endpoint(server))
        defer { client.stop() }
        #expect(client.send(RESPCommand("SET", "k", "1"))?.0 == .reply(.simple("OK")))
        server.stop()
        // The first command may find the connection still open; within a few it must be refused fast.
        var unavailableFast = false
        for _ in 0..<20 where !unavailableFast {
            if let (outcome, took) = client.send(RESPCommand("PING")), case .unavailable = outcome, took < .milliseconds(50) {
                unavailableFast = true
            }
        }
        #expect(unavailableFast)
        try server.restart()
        var back = false
        let deadline = ContinuousClock.now + .seconds(5)
        while !back, ContinuousClock.now < deadline {
            back = client.send(RESPCommand("PING"))?.0 == .reply(.simple("PONG"))
        }
        #expect(back)
    }

    @Test func backoffDoublesUpToItsLimitWithJitterTakenOff() {
        let backoff = ReconnectBackoff(first: .milliseconds(100), limit: .seconds(1), jitter: 0.5)
        #expect(backoff.delay(afterFailures: 1, random: 0) == .milliseconds(100))
        #expect(backoff.delay(afterFailures: 2, random: 0) == .milliseconds(200))
        #expect(backoff.delay(afterFailures: 4, random: 0) == .milliseconds(800))
        #expect(backoff.delay(afterFailures: 5, random: 0) == .seconds(1))
        #expect(backoff.delay(afterFailures: 500, random: 0) == .seconds(1))
        #expect(backoff.delay(afterFailures: 1, random: 1) == .milliseconds(50))
    }
}
