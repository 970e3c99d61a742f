import SluiceHTTP
import SluiceTesting
import Testing

@Suite(.serialized)
struct ReloadTests {
    static func file(chain: String, extraListener: String = "") -> String {
        """
        listeners:
          - { name: main, address: 127.0.0.1:0 }
        \(extraListener)
        admin: { address: 127.0.0.1:0 }
        upstreams:
          fake: { endpoints: ["{{upstream}}"] }
        routes: [{ path_prefix: /, chain: main, upstream: fake }]
        chains:
          main:
        \(chain)
        """
    }

    static let bucket = "    - { filter: token_bucket, name: limit, config: { capacity: 3, refill_per_second: 0 } }"

    private func post(_ port: Int) throws -> TestResponse {
        try TestClient.post(port: port, path: "/v1/chat/completions", json: TestClient.chatRequest())
    }

    @Test func newExchangesUseTheNewChainWhileStreamsInFlightFinishOnTheOld() throws {
        let proxy = try ProxyHarness(filterFile: Self.file(chain: "    []"), path: ProxyHarness.temporaryFilterFilePath())
        defer { proxy.stop() }
        // A stream in flight across the reload.
        let long = try TestClient(port: proxy.port)
        defer { long.close() }
        try long.send(HTTPRequestHead(method: "POST", target: "/v1/chat/completions",
                                      headers: HTTPHeaders([("host", "x"), ("x-mock-tokens", "60"), ("x-mock-tps", "100")])),
                      body: Array(TestClient.chatRequest().utf8))
        _ = try long.readHead()
        let result = try proxy.reload(filterFile: Self.file(chain: Self.bucket))
        #expect((try? result.get()) == 2)
        #expect(try post(proxy.port).head.headers["ratelimit-limit"] == "3")
        let rest = try long.readResponse()
        #expect(rest.ending == .complete)
        #expect(rest.sseEvents.last?.data == "[DONE]")
    }

    @Test func anInvalidFileLeavesTheRunningChainInForceAndReportsPositions() throws {
        let proxy = try ProxyHarness(filterFile: Self.file(chain: Self.bucket), path: ProxyHarness.temporaryFilterFilePath())
        defer { proxy.stop() }
        let broken = Self.file(chain: "    - { filter: token_bucket, config: { capacity: -1, refill_per_second: 0 } }\n    - { filter: nope }")
        let result = try proxy.reload(filterFile: broken)
        guard case .failure(let errors) = result else {
            Issue.record("an invalid file was accepted")
            return
        }
        #expect(errors.errors.count == 2)
        #expect(errors.errors.allSatisfy { $0.description.hasPrefix(proxy.path + ":") })
        #expect(errors.errors.contains { $0.description.contains("'nope'") })
        #expect(try post(proxy.port).head.headers["ratelimit-limit"] == "3")
        #expect(proxy.engine.reloadCounts.withLock { $0.failed } == 1)

        // Through the admin API: 400 with the positioned errors.
        let admin = try TestClient(port: proxy.adminPort!)
        defer { admin.close() }
        try admin.sendRaw(Array("POST /admin/reload HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n".utf8))
        let answer = try admin.readResponse()
        #expect(answer.status == 400)
        #expect(answer.bodyText.contains(proxy.path + ":"))
    }

    @Test func bucketLevelsSurviveAReload() throws {
        let proxy = try ProxyHarness(filterFile: Self.file(chain: Self.bucket), path: ProxyHarness.temporaryFilterFilePath())
        defer { proxy.stop() }
        #expect(try post(proxy.port).status == 200)
        #expect(try post(proxy.port).status == 200)
        #expect((try? proxy.reload(filterFile: Self.file(chain: Self.bucket)).get()) == 2)
        #expect(try post(proxy.port).status == 200)
        #expect(try post(proxy.port).status == 429)
    }

    @Test func listenersAddedAndRemovedByReload() throws {
        let proxy = try ProxyHarness(filterFile: Self.file(chain: "    []"), path: ProxyHarness.temporaryFilterFilePath())
        defer { proxy.stop() }
        let mainPort = proxy.port
        let keepAlive = try TestClient(port: mainPort)
        defer { keepAlive.close() }
        try keepAlive.sendRaw(Array("GET /v1/models HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
        #expect(try keepAlive.readResponse().status == 200)

        // Add a second listener.
        #expect((try? proxy.reload(filterFile: Self.file(chain: "    []", extraListener: "  - { name: extra, address: 127.0.0.1:0 }")).get()) == 2)
        let ports = proxy.engine.listenerPorts
        #expect(ports.count == 2)
        #expect(ports[0] == mainPort)
        #expect(try post(ports[1]).status == 200)

        // Remove it again: its port stops accepting, the main listener and its open connection go on.
        #expect((try? proxy.reload(filterFile: Self.file(chain: "    []")).get()) == 3)
        #expect(proxy.engine.listenerPorts == [mainPort])
        #expect(throws: (any Error).self) { _ = try TestClient.post(port: ports[1], path: "/v1/models", json: "", timeout: .seconds(2)) }
        try keepAlive.sendRaw(Array("GET /v1/models HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
        #expect(try keepAlive.readResponse().status == 200)
    }

    @Test func aReloadUnderManyLiveStreamsDropsNone() throws {
        let proxy = try ProxyHarness(filterFile: Self.file(chain: "    []"), path: ProxyHarness.temporaryFilterFilePath())
        defer { proxy.stop() }
        let streams = try (0..<200).map { _ -> TestClient in
            let c = try TestClient(port: proxy.port)
            try c.send(HTTPRequestHead(method: "POST", target: "/v1/chat/completions",
                                       headers: HTTPHeaders([("host", "x"), ("x-mock-tokens", "30"), ("x-mock-tps", "50")])),
                       body: Array(TestClient.chatRequest().utf8))
            return c
        }
        for s in streams { _ = try s.readHead() }  // all live now
        let roomy = "    - { filter: token_bucket, name: limit, config: { capacity: 1000, refill_per_second: 0 } }"
        #expect((try? proxy.reload(filterFile: Self.file(chain: roomy)).get()) == 2)
        // New streams see the new chain while the old ones go on.
        #expect(try post(proxy.port).head.headers["ratelimit-limit"] == "1000")
        var complete = 0
        for s in streams {
            let r = try s.readResponse(timeout: .seconds(20))
            if r.ending == .complete && r.sseEvents.last?.data == "[DONE]" { complete += 1 }
            s.close()
        }
        #expect(complete == 200)
    }

    @Test func pooledConnectionsToARemovedEndpointAreClosed() throws {
        let proxy = try ProxyHarness(filterFile: Self.file(chain: "    []"), path: ProxyHarness.temporaryFilterFilePath(), workers: 1)
        defer { proxy.stop() }
        #expect(try post(proxy.port).status == 200)
        #expect(proxy.upstream.openConnections == 1)  // pooled, idle
        let elsewhere = Self.file(chain: "    []").replacingOccurrences(of: "{{upstream}}", with: "http://127.0.0.1:1")
        #expect((try? proxy.reload(filterFile: elsewhere).get()) == 2)
        #expect(proxy.upstream.journal.wait(timeout: .seconds(5)) { _ in proxy.upstream.openConnections == 0 })
    }
}
