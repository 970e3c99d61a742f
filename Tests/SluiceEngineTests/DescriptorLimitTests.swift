import Foundation
import SluiceEngine
import SluiceTesting
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A `sluice run` at its open-files limit (issue 12, item 8): reloads by SIGHUP and by the admin
/// API leave it running, a new client gets a 503 instead of waiting, and it serves again when the
/// load falls.
@Suite(.serialized)
struct DescriptorLimitTests {
    static let file = """
    listeners: [{ address: 127.0.0.1:0 }]
    access_log: { output: off }
    limits: { client_header_timeout: 60s }
    upstreams:
      m: { endpoints: ["mock://local?ttft=1ms&tokens=2"] }
    routes: [{ path_prefix: /, chain: c, upstream: m }]
    chains: { c: [] }

    """

    /// User and system CPU time of process `pid` so far, from /proc.
    static func cpuSeconds(of pid: Int32) -> Double {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let end = stat.lastIndex(of: ")") else { return 0 }
        // After the command's closing parenthesis: state is field 3; utime and stime are 14 and 15.
        let fields = stat[stat.index(after: end)...].split(separator: " ")
        guard fields.count > 13, let user = Double(fields[11]), let system = Double(fields[12]) else { return 0 }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// How `process` ended, or that it runs.
    static func ending(_ process: Process) -> String {
        guard !process.isRunning else { return "running" }
        let reason = process.terminationReason == .uncaughtSignal ? "signal" : "exit status"
        return "\(reason) \(process.terminationStatus)"
    }

    /// Status of one GET, or nil when no answer came in time.
    private func status(_ port: Int, _ method: String = "GET", _ path: String = "/v1/models") -> Int? {
        guard let client = try? TestClient(port: port) else { return nil }
        defer { client.close() }
        try? client.sendRaw(Array("\(method) \(path) HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n".utf8))
        return try? client.readResponse(timeout: .seconds(3)).status
    }

    @Test func atTheDescriptorLimitReloadsKeepItAliveNewClientsGet503AndItRecovers() throws {
        // Before: SIGHUP killed the process (SIGILL in libdispatch's epoll set-up), and a new
        // client waited without an answer while the process had no descriptor left.
        let path = try CommandLineTests.writeTemp(Self.file, name: "fds.yaml")
        let sluice = try CommandLineTests.startRun(["--config", path, "--admin", "127.0.0.1:0", "--workers", "2", "--watch"],
                                                     descriptorLimit: 128)
        let process = sluice.process
        defer { if process.isRunning { process.terminate() }; process.waitUntilExit() }
        let log = PipeText(sluice.errors)
        #expect(status(sluice.port) == 200)

        // Fill it: more idle connections than it has descriptors.
        let crowd = IdleConnectionCrowd(count: 200, from: "127.0.0.2", port: sluice.port, deadline: .now + .seconds(10))
        defer { crowd.close() }
        #expect(crowd.descriptors.count == 200)
        // Full: a new client is answered 503 at once (from the reserved descriptor) and closed.
        #expect(status(sluice.port) == 503)
        let fullSince = ContinuousClock.now
        let cpuWhenFull = Self.cpuSeconds(of: process.processIdentifier)

        // Reload while full, by signal and by the admin API: it stays alive.
        kill(process.processIdentifier, SIGHUP)
        #expect(log.wait(until: .now + .seconds(10)) { $0.contains("cannot read the file") || $0.contains("reloaded") }, "\(log.text)")
        #expect(process.isRunning, "the process died on SIGHUP at its descriptor limit (\(Self.ending(process))): \(log.text)")
        // A reload that cannot open the file says why, and changes nothing.
        #expect(log.text.contains("cannot read the file: Too many open files") || log.text.contains("reloaded"), "\(log.text)")
        let adminWhileFull = status(sluice.adminPort, "POST", "/admin/reload")
        #expect(adminWhileFull != nil)
        #expect(process.isRunning)
        // And by --watch: the file changes while full.
        let reloadLines = log.count(of: "reload")
        try (Self.file + "# changed\n").write(toFile: path, atomically: true, encoding: .utf8)
        #expect(log.wait(until: .now + .seconds(10)) { _ in log.count(of: "reload") >= reloadLines + 2 }, "\(log.text)")
        #expect(process.isRunning, "the process died on a --watch reload at its descriptor limit (\(Self.ending(process))): \(log.text)")

        // While full, accept errors pause accepting instead of spinning on them.
        let wall = ContinuousClock.now - fullSince
        let cpu = Self.cpuSeconds(of: process.processIdentifier) - cpuWhenFull
        #expect(cpu < 0.5 * Double(wall.components.seconds) + Double(wall.components.attoseconds) / 2e18 + 0.2,
                "\(cpu) s of CPU in \(wall) at the descriptor limit")

        // Load falls: it serves again, and reloads succeed.
        crowd.close()
        var recovered: Int?
        let until = ContinuousClock.now + .seconds(10)
        while recovered != 200, ContinuousClock.now < until {
            recovered = status(sluice.port)
            if recovered != 200 { usleep(50_000) }  // the proxy closes the crowd's connections as their FINs arrive
        }
        #expect(recovered == 200)
        #expect(status(sluice.adminPort, "POST", "/admin/reload") == 200)
        let before = log.count(of: "reloaded")
        kill(process.processIdentifier, SIGHUP)
        #expect(log.wait(until: .now + .seconds(10)) { $0.components(separatedBy: "reloaded").count - 1 > before }, "\(log.text)")
        #expect(process.isRunning)

        let metrics = try #require(try? TestClient(port: sluice.adminPort))
        defer { metrics.close() }
        try metrics.sendRaw(Array("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
        let scrape = MetricsScrape(text: try metrics.readResponse().bodyText)
        #expect(scrape.value("sluice_connections_refused_total", ["reason": "out_of_descriptors"]) >= 1)
    }
}
