import SluiceTesting
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Idle connections must not shut other clients out (issue 12, item 6): a connection that sends
/// nothing gets `client_header_timeout` from its accept, one address holds at most
/// `max_connections_per_ip`, and at `max_connections` idle connections make room for a new client.
/// The crowd connects from 127.0.0.2; the well-behaved client from 127.0.0.1.
@Suite(.serialized)
struct SlowlorisTests {
    private func proxy(limits: String, workers: Int = 1, clock: any SluiceClock = SystemClock()) throws -> ProxyHarness {
        try proxyWithLimits(limits, admin: true, workers: workers, clock: clock)
    }

    private func models(_ port: Int) throws -> Int {
        let client = try TestClient(port: port)
        defer { client.close() }
        try client.sendRaw(Array("GET /v1/models HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
        return try client.readResponse(timeout: .seconds(5)).status
    }

    /// Waits (bounded) until the proxy counts `count` open connections.
    private func waitForOpenConnections(_ proxy: ProxyHarness, _ count: Int, within: Duration = .seconds(10)) -> Bool {
        let deadline = ContinuousClock.now + within
        while proxy.engine.openConnectionCount != count, ContinuousClock.now < deadline { usleep(5_000) }
        return proxy.engine.openConnectionCount == count
    }

    @Test func aConnectionThatSendsNothingGetsTheHeaderTimeoutNotTheKeepAliveOne() throws {
        // Before: the header timer started at the first byte, so a silent connection lived 60 s.
        let proxy = try proxy(limits: "  client_header_timeout: 1s\n  client_keepalive_timeout: 60s")
        defer { proxy.stop() }
        let client = try TestClient(port: proxy.port)
        defer { client.close() }
        let started = ContinuousClock.now
        #expect(client.isClosedByPeer(within: .seconds(5)))
        #expect(ContinuousClock.now - started >= .milliseconds(900))
    }

    @Test func oneAddressHoldsAtMostMaxConnectionsPerIP() throws {
        let proxy = try proxy(limits: "  max_connections_per_ip: 10\n  client_header_timeout: 60s", workers: 2)
        defer { proxy.stop() }
        let crowd = IdleConnectionCrowd(count: 30, from: "127.0.0.2", port: proxy.port, deadline: .now + .seconds(10))
        defer { crowd.close() }
        #expect(crowd.descriptors.count == 30)
        // Twenty are closed at once, across both workers; ten stay.
        let closed = crowd.waitForClosed(until: .now + .seconds(10)) { $0 >= 20 }
        #expect(closed == 20)
        #expect(waitForOpenConnections(proxy, 10))
        // Another address is served.
        #expect(try models(proxy.port) == 200)
        let m = try proxy.metrics(within: .seconds(5)) { $0.value("sluice_connections_refused_total", ["reason": "per_ip"]) == 20 }
        #expect(m.value("sluice_connections_refused_total", ["reason": "per_ip"]) == 20)
        // Closing the crowd frees the address's count.
        crowd.close()
        #expect(waitForOpenConnections(proxy, 0))
        let again = IdleConnectionCrowd(count: 10, from: "127.0.0.2", port: proxy.port, deadline: .now + .seconds(10))
        defer { again.close() }
        #expect(waitForOpenConnections(proxy, 10))
        #expect(again.countClosedByPeer() == 0)
    }

    @Test func atMaxConnectionsTheOldestIdleConnectionMakesRoomForANewClient() throws {
        // Before: every connection past max_connections was closed at once, so an idle crowd kept
        // everyone else out until its connections timed out.
        let clock = ManualClock()
        let proxy = try proxy(limits: "  max_connections: 20\n  client_header_timeout: 60s", clock: clock)
        defer { proxy.stop() }
        let crowd = IdleConnectionCrowd(count: 20, from: "127.0.0.2", port: proxy.port, deadline: .now + .seconds(10))
        defer { crowd.close() }
        #expect(waitForOpenConnections(proxy, 20))
        // Idle for less than a second, a connection is left alone (its client may be about to use it).
        let early = try TestClient(port: proxy.port)
        defer { early.close() }
        #expect(early.isClosedByPeer(within: .seconds(3)))
        clock.advance(by: .seconds(2))
        #expect(try models(proxy.port) == 200)
        #expect(crowd.waitForClosed(until: .now + .seconds(5)) { $0 >= 1 } == 1)
        let m = try proxy.metrics(within: .seconds(5)) { $0.value("sluice_idle_connections_closed_total") == 1 }
        #expect(m.value("sluice_idle_connections_closed_total") == 1)
    }

    @Test func aConnectionInAnExchangeIsNeverClosedToMakeRoom() throws {
        let proxy = try proxy(limits: "  max_connections: 2\n  client_header_timeout: 60s")
        defer { proxy.stop() }
        // Two long streams hold both slots: a third client is refused, and the streams go on.
        let streams = try (0..<2).map { _ in try TestClient(port: proxy.port) }
        defer { for s in streams { s.close() } }
        for s in streams {
            try s.send(.init(method: "POST", target: "/v1/chat/completions",
                             headers: .init([("host", "x"), ("content-type", "application/json"), ("x-mock-tokens", "20"), ("x-mock-tps", "20")])),
                       body: Array(TestClient.chatRequest().utf8))
            #expect(try s.readHead().status == 200)
        }
        let third = try TestClient(port: proxy.port)
        defer { third.close() }
        #expect(third.isClosedByPeer(within: .seconds(3)))
        for s in streams { #expect(try s.readResponse().ending == .complete) }
    }
}
