import Foundation
import SluiceEngine
import SluiceHTTP
import SluiceTesting
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Issue 12, item 6, at full size: 10,000 idle connections from one address against a `sluice run`
/// with the default limits. A stream that was running goes on undisturbed, and a new client still
/// gets in. A process of its own, so the proxy's 10,000 descriptors and the crowd's 10,000 each
/// fit under one open-files limit.
@Suite(.serialized)
struct SlowlorisLoadTests {
    static let crowdSize = 10_000

    /// Raises this process's open-files limit to its hard limit (as scripts/test.sh does), so the
    /// crowd fits; the proxy inherits it. Answers the limit in force.
    private func raiseDescriptorLimit() -> Int {
        var limit = rlimit()
        getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        limit.rlim_cur = limit.rlim_max
        setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        return Int(limit.rlim_cur)
    }

    private func openConnections(_ adminPort: Int) -> Double? {
        guard let client = try? TestClient(port: adminPort) else { return nil }
        defer { client.close() }
        try? client.sendRaw(Array("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
        guard let body = try? client.readResponse(timeout: .seconds(5)).bodyText else { return nil }
        return MetricsScrape(text: body).value("sluice_open_connections")
    }

    @Test func tenThousandIdleConnectionsFromOneAddressShutNobodyOut() throws {
        let limit = raiseDescriptorLimit()
        try #require(limit >= Self.crowdSize + 1000, "the open-files limit (\(limit)) is too low for this test")
        let file = """
        listeners: [{ address: 127.0.0.1:0 }]
        access_log: { output: off }
        upstreams:
          m: { endpoints: ["mock://local?ttft=20ms&tokens=200&tps=20"] }
        routes: [{ path_prefix: /, chain: c, upstream: m }]
        chains: { c: [] }

        """
        let path = try CommandLineTests.writeTemp(file, name: "slowloris.yaml")
        let sluice = try CommandLineTests.startRun(["--config", path, "--admin", "127.0.0.1:0", "--workers", "2"])
        let process = sluice.process
        defer { if process.isRunning { process.terminate() }; process.waitUntilExit() }
        let started = ContinuousClock.now

        // A 10 s stream (200 tokens at 20 per second) runs while the crowd arrives.
        var crowdOpen = false
        let stream = try TestClient(port: sluice.port)
        defer { stream.close() }
        try stream.send(chatCompletionsHead(sluice.port), body: Array(TestClient.chatRequest().utf8))
        #expect(try stream.readHead().status == 200)

        // The crowd connects from another thread; this one keeps reading the stream meanwhile.
        // The crowd is handed over through the semaphore: the other thread never touches it after.
        final class Handover: @unchecked Sendable { var crowd: IdleConnectionCrowd? }
        let handover = Handover()
        let crowdDone = DispatchSemaphore(value: 0)
        let port = sluice.port
        // With 10,000 descriptors open here, Foundation's `Process.run` may crash: other tests
        // launch nothing until the crowd is closed.
        ProcessLaunchGate.beginManyDescriptors()
        Thread.detachNewThread {
            handover.crowd = IdleConnectionCrowd(count: Self.crowdSize, from: "127.0.0.2", port: port, deadline: .now + .seconds(30))
            crowdDone.signal()
        }
        defer {
            if !crowdOpen { crowdDone.wait() }
            handover.crowd?.close()
            ProcessLaunchGate.endManyDescriptors()
        }
        var contentTimes: [ContinuousClock.Instant] = []
        var newcomer: TestResponse?
        var fullAt: ContinuousClock.Instant?
        var heldWhenFull = 0
        var newcomerWait: Duration?
        while let item = try stream.readItem(timeout: .seconds(10)) {
            if item.event?.data.contains("\"content\"") == true { contentTimes.append(item.at) }
            if !crowdOpen, crowdDone.wait(timeout: .now()) == .success { crowdOpen = true }
            // Full: within 1% of max_connections (10,000), where idle connections start making room.
            if crowdOpen, fullAt == nil, let open = openConnections(sluice.adminPort), open >= Double(Self.crowdSize - Self.crowdSize / 100) {
                fullAt = .now
                heldWhenFull = Int(open)
            }
            // The proxy is full of the crowd's connections, idle for over a second (younger idle
            // connections are left alone): a newcomer still gets in.
            if newcomer == nil, let fullAt, ContinuousClock.now - fullAt > .milliseconds(1200) {
                let asked = ContinuousClock.now
                newcomer = try TestClient.post(port: sluice.port, path: "/v1/chat/completions",
                                               json: TestClient.chatRequest(stream: false), headers: [("x-mock-tokens", "5")])
                newcomerWait = ContinuousClock.now - asked
            }
        }
        #expect(stream.lastEnding == .complete)
        #expect(crowdOpen && handover.crowd?.descriptors.count == Self.crowdSize)
        #expect(contentTimes.count == 200)
        let gaps = zip(contentTimes.dropFirst(), contentTimes).map { $0 - $1 }
        let longest = gaps.max() ?? .zero
        #expect(longest < .seconds(1), "the running stream stalled for \(longest)")
        let response = try #require(newcomer, "the proxy never held the whole crowd during the stream")
        #expect(response.status == 200)
        print("slowloris 10,000: \(ContinuousClock.now - started) in all; \(heldWhenFull) connections open when full; longest gap of the running stream \(longest); newcomer answered in \(newcomerWait ?? .zero)")
    }
}
