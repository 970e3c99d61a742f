import Foundation
import SluiceEngine
import SluiceHTTP
import SluiceMock
import SluiceTesting
import Synchronization
import Testing

/// The console in a real browser: Debian's headless Chromium, driven over the DevTools pipe by
/// `scripts/console-browser.py`, opens the page of a proxy with live streams (one streaming, one
/// paused by a client that reads nothing, two queued) and a breaker forced open, waits until the
/// SSE snapshots drew them, checks the figures in the DOM, and saves a screenshot; then clicks the
/// reload button and sees the new chain version.
///
/// Runs when `chromium` is on the PATH, and always when `SLUICE_BROWSER_TEST=1` (as in
/// `scripts/test.sh`, which installs Chromium): then a missing browser fails the test. The
/// screenshot goes to `$SLUICE_TEST_OUTPUT/console.png`, or to the temporary directory.
@Suite(.serialized)
struct ConsoleBrowserTests {
    static let required = ProcessInfo.processInfo.environment["SLUICE_BROWSER_TEST"] == "1"
    static let chromiumFound = (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").contains { dir in
        ["chromium", "chromium-browser"].contains { FileManager.default.isExecutableFile(atPath: "\(dir)/\($0)") }
    }

    static let filterFile = """
        listeners:
          - name: test
            address: 127.0.0.1:0
        admin:
          address: 127.0.0.1:0
        upstreams:
          llm:
            endpoints: ["{{upstream}}"]
          flaky:
            endpoints: ["{{upstream}}"]
        routes:
          - name: flaky
            host: flaky
            path_prefix: /
            chain: guarded
            upstream: flaky
          - name: chat
            path_prefix: /
            chain: main
            upstream: llm
        chains:
          main:
            - filter: admission
              config: { max_active_streams: 2, queue: { max_length: 10, max_wait: 2m } }
            - filter: timeouts
              config: { first_token: 10s }
            - filter: backpressure
              config: { high_watermark: 16KiB }
          guarded:
            - filter: circuit_breaker
              config: { failures: 2, window: 1m, open_duration: 10m }

        """

    /// Starts a streamed chat request and returns its client, the response unread.
    static func stream(_ port: Int, tokens: Int, tps: Int, receiveBuffer: Int? = nil, host: String = "chat",
                       extra: [(String, String)] = []) throws -> TestClient {
        let client = try receiveBuffer.map { try TestClient(port: port, receiveBuffer: $0) } ?? TestClient(port: port)
        try client.send(HTTPRequestHead(method: "POST", target: "/v1/chat/completions", headers: HTTPHeaders([
            ("host", host), ("content-type", "application/json"), ("x-mock-tokens", String(tokens)), ("x-mock-tps", String(tps)),
        ] + extra)), body: Array(TestClient.chatRequest().utf8))
        return client
    }

    @Test(.enabled(if: required || chromiumFound, "needs chromium (scripts/install-deps.sh --tests installs it)"))
    func thePageShowsTheStreamsTheOpenBreakerAndTheQueue() throws {
        let proxy = try ProxyHarness(filterFile: Self.filterFile, path: ProxyHarness.temporaryFilterFilePath(),
                                     upstreamSettings: ProxyHarness.fastMock)
        defer { proxy.stop() }
        let adminPort = try #require(proxy.adminPort)

        // Some finished requests, so the route has figures; then the breaker of `flaky` forced open.
        for _ in 0..<6 {
            #expect(try TestClient.post(port: proxy.port, path: "/v1/chat/completions", json: TestClient.chatRequest()).status == 200)
        }
        for _ in 0..<2 {
            let failing = try Self.stream(proxy.port, tokens: 5, tps: 100, host: "flaky", extra: [("x-mock-status", "503")])
            defer { failing.close() }
            #expect(try failing.readResponse().status == 503)
        }
        let opened = try proxy.metrics(within: .seconds(5)) { $0.value("sluice_circuit_breaker_state") == 2 }
        #expect(opened.value("sluice_circuit_breaker_state") == 2)

        // Two admitted streams: one whose client never reads (paused once its backlog passes the
        // high watermark), then one that reads; then two that queue behind them.
        let stalled = try Self.stream(proxy.port, tokens: MockFaults.maxTokens, tps: 100_000, receiveBuffer: 4096)
        defer { stalled.close() }
        let pausedBy = ContinuousClock.now + .seconds(20)
        while try !proxy.admin("GET", "/admin/streams").bodyText.contains("\"state\":\"paused\""), ContinuousClock.now < pausedBy {
            Thread.sleep(forTimeInterval: 0.02)
        }
        let reading = try Self.stream(proxy.port, tokens: 5000, tps: 20)
        defer { reading.close() }
        _ = try reading.readHead()
        _ = try proxy.metrics(within: .seconds(5)) { $0.value("sluice_admission_in_flight") == 2 }
        let queued = try (0..<2).map { _ in try Self.stream(proxy.port, tokens: 10, tps: 20) }
        defer { for q in queued { q.close() } }
        let waiting = try proxy.metrics(within: .seconds(5)) { $0.value("sluice_admission_queue_length") == 2 }
        #expect(waiting.value("sluice_admission_queue_length") == 2)

        let output = ProcessInfo.processInfo.environment["SLUICE_TEST_OUTPUT"]
            ?? FileManager.default.temporaryDirectory.appendingPathComponent("sluice-console-\(UUID().uuidString)").path
        let screenshot = URL(fileURLWithPath: output).appendingPathComponent("console.png").path
        let until = """
            document.body.dataset.snapshots >= 2
            && document.querySelectorAll('#streams tbody tr').length === 4
            && document.querySelectorAll('#streams tr[data-state="queued"]').length === 2
            && document.querySelector('#streams tr[data-state="paused"]') !== null
            && document.querySelector('#streams tr[data-state="streaming"]') !== null
            && document.querySelector('[data-filter="circuit_breaker"] .breaker[data-state="open"]') !== null
            && document.querySelector('[data-filter="admission"] [data-figure="admission_queue_length"]').textContent === "2"
            """
        let report = """
            ({
              snapshots: Number(document.body.dataset.snapshots),
              link: document.getElementById('link').textContent,
              states: [...document.querySelectorAll('#streams tbody tr')].map(r => r.dataset.state).sort(),
              pausedVerdict: document.querySelector('#streams tr[data-state="paused"]')?.dataset.verdict ?? null,
              firstRowVerdict: document.querySelector('#streams tbody tr')?.dataset.verdict ?? null,
              breakers: [...document.querySelectorAll('.breaker')].map(b => b.dataset.endpoint + '=' + b.dataset.state),
              queue: document.querySelector('[data-filter="admission"] [data-figure="admission_queue_length"]')?.textContent ?? null,
              inFlight: document.querySelector('[data-filter="admission"] [data-figure="admission_in_flight"]')?.textContent ?? null,
              chains: [...document.querySelectorAll('.chain')].map(c => c.dataset.chain + ':' + [...c.querySelectorAll('.filter')].map(f => f.dataset.type).join('>')),
              routes: [...document.querySelectorAll('.route')].map(r => r.dataset.route),
              chatRequests: document.querySelector('[data-route="chat"] [data-figure="requests"] b')?.textContent ?? null,
              streamsHeading: document.getElementById('stream-count').textContent,
            })
            """
        let started = ContinuousClock.now
        let (status, stdout, stderr) = try Self.runBrowser([
            "--url", "http://127.0.0.1:\(adminPort)/", "--until", until, "--report", report, "--screenshot", screenshot, "--timeout", "45",
        ], timeout: .seconds(90))
        print("console browser test: \(ContinuousClock.now - started), screenshot at \(screenshot)")
        #expect(status == 0, "console-browser.py exited \(status): \(stderr)\n\(stdout)")
        let line = try #require(stdout.split(separator: "\n").last.map(String.init), "no report: \(stderr)")
        let seen = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])

        #expect(seen["link"] as? String == "live")
        #expect((seen["snapshots"] as? Int ?? 0) >= 2)
        #expect(seen["states"] as? [String] == ["paused", "queued", "queued", "streaming"])
        // The client that reads nothing stands out, and sorts first among equals.
        #expect(seen["pausedVerdict"] as? String == "stuck")
        #expect(seen["breakers"] as? [String] == ["flaky/http://127.0.0.1:\(proxy.upstream.port)=open"])
        #expect(seen["queue"] as? String == "2")
        #expect(seen["inFlight"] as? String == "2")
        #expect(seen["chains"] as? [String] == ["main:admission>timeouts>backpressure", "guarded:circuit_breaker"])
        #expect(seen["routes"] as? [String] == ["flaky", "chat"])
        #expect(seen["chatRequests"] as? String == "6")
        #expect((seen["streamsHeading"] as? String)?.hasPrefix("4 in flight") == true)
        let png = try Data(contentsOf: URL(fileURLWithPath: screenshot))
        #expect(png.starts(with: [0x89, 0x50, 0x4E, 0x47]) && png.count > 10_000)

        // The reload button, as the browser sends it (Origin, Sec-Fetch-Site and the page's token),
        // gets past the guard and puts version 2 in force; the next snapshot shows it.
        let click = """
            (() => {
              if (Number(document.body.dataset.snapshots) < 1) return false;
              if (!window.clickedReload) { window.clickedReload = true; document.getElementById('reload-button').click(); return false; }
              return document.getElementById('reload-result').classList.contains('good')
                && document.querySelector('[data-last-reload]') !== null;
            })()
            """
        let afterReload = """
            ({
              result: document.getElementById('reload-result').textContent,
              last: document.querySelector('[data-last-reload]')?.dataset.lastReload ?? null,
              chain: document.getElementById('chain-version').textContent,
            })
            """
        let (reloadStatus, reloadOut, reloadErr) = try Self.runBrowser([
            "--url", "http://127.0.0.1:\(adminPort)/", "--until", click, "--report", afterReload,
            "--screenshot", URL(fileURLWithPath: output).appendingPathComponent("console-reloaded.png").path, "--timeout", "30",
        ], timeout: .seconds(60))
        #expect(reloadStatus == 0, "console-browser.py exited \(reloadStatus): \(reloadErr)\n\(reloadOut)")
        let reloaded = try #require(try JSONSerialization.jsonObject(
            with: Data((reloadOut.split(separator: "\n").last.map(String.init) ?? "").utf8)) as? [String: Any])
        #expect(reloaded["result"] as? String == "version 2 in force")
        #expect(reloaded["last"] as? String == "ok")
        #expect((reloaded["chain"] as? String)?.hasPrefix("v2 ") == true)
        #expect(proxy.engine.reloadCounts.withLock { $0.succeeded } == 1)
    }

    /// Runs the driver; kills it if it outlives `timeout`.
    static func runBrowser(_ arguments: [String], timeout: Duration) throws -> (Int32, String, String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", CommandLineTests.root.appendingPathComponent("scripts/console-browser.py").path] + arguments
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        let done = DispatchSemaphore(value: 0)
        process.terminationHandler = { _ in done.signal() }
        try ProcessLaunchGate.run(process)
        // Read while it runs, so a full pipe cannot stall it.
        let stdout = Mutex<Data>(Data()), stderr = Mutex<Data>(Data())
        let readers = DispatchGroup()
        readers.enter()
        DispatchQueue.global().async {
            let data = out.fileHandleForReading.readDataToEndOfFile()
            stdout.withLock { $0 = data }
            readers.leave()
        }
        readers.enter()
        DispatchQueue.global().async {
            let data = err.fileHandleForReading.readDataToEndOfFile()
            stderr.withLock { $0 = data }
            readers.leave()
        }
        let seconds = Double(timeout.components.seconds)
        if done.wait(timeout: .now() + seconds) == .timedOut {
            process.terminate()
            done.wait()
        }
        _ = readers.wait(timeout: .now() + 5)
        return (process.terminationStatus, String(decoding: stdout.withLock { $0 }, as: UTF8.self),
                String(decoding: stderr.withLock { $0 }, as: UTF8.self))
    }
}
