import Foundation
import SluiceHTTP
import SluiceTesting
import Testing

/// Runs the built `sluice` binary the way a user does.
@Suite(.serialized)
struct CommandLineTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let binary = root.appendingPathComponent(".build/debug/sluice").path

    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    static func run(_ arguments: [String], timeout: Duration? = nil) throws -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = arguments
        process.currentDirectoryURL = root
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try ProcessLaunchGate.run(process)
        if let timeout {
            // A command expected to exit that keeps running (a server that started after all) is stopped, so
            // the test fails on its status instead of hanging.
            let deadline = Date().addingTimeInterval(Double(timeout.components.seconds))
            while process.isRunning && Date() < deadline { usleep(10_000) }
            if process.isRunning { process.terminate() }
        }
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Result(status: process.terminationStatus, stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: e, as: UTF8.self))
    }

    /// A `sluice run` started in the background, with the ports it printed.
    struct RunningSluice {
        let process: Process
        let port: Int
        let adminPort: Int
        /// Standard output: the access log's lines, and nothing else.
        let output: Pipe
        /// Standard error after the start-up lines: the proxy's own messages.
        let errors: Pipe
    }

    /// Starts `sluice run` with `arguments` (from the repository root) and waits for its
    /// "listening on" and "admin on" lines on standard error. With `descriptorLimit`, it runs under
    /// that open-files limit (`ulimit -n` in a shell that then execs it). The caller stops it.
    static func startRun(_ arguments: [String], descriptorLimit: Int? = nil) throws -> RunningSluice {
        let process = Process()
        if let descriptorLimit {
            process.executableURL = URL(fileURLWithPath: "/bin/sh")
            process.arguments = ["-c", "ulimit -n \(descriptorLimit) && exec \"$0\" run \"$@\"", binary] + arguments
        } else {
            process.executableURL = URL(fileURLWithPath: binary)
            process.arguments = ["run"] + arguments
        }
        process.currentDirectoryURL = root
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try ProcessLaunchGate.run(process)
        var text = ""
        let deadline = Date().addingTimeInterval(10)
        while !text.contains("admin on"), Date() < deadline {
            let chunk = err.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            text += String(decoding: chunk, as: UTF8.self)
        }
        let lines = text.split(separator: "\n")
        guard let listen = lines.first(where: { $0.contains("listening on http://") }),
              let port = Int(listen.split(separator: ":")[3].split(separator: " ")[0]),
              let admin = lines.first(where: { $0.contains("admin on") }),
              let adminPort = Int(admin.split(separator: ":").last!) else {
            process.terminate()
            throw TestClientError.connectFailed("sluice run printed no ports: \(text)")
        }
        return RunningSluice(process: process, port: port, adminPort: adminPort, output: out, errors: err)
    }

    static func writeTemp(_ text: String, name: String) throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sluice-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let path = dir.appendingPathComponent(name).path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test func checkAcceptsTheDefaultFile() throws {
        let r = try Self.run(["check", "filters/default.yaml"])
        #expect(r.status == 0)
        #expect(r.stdout == "ok\n")
    }

    @Test func checkReportsEveryProblemWithItsPosition() throws {
        let path = try Self.writeTemp("""
        listeners:
          - address: 127.0.0.1:99999
        upstreams:
          u: { endpoints: ["ftp://x"] }
        routes:
          - { path_prefix: /, chain: missing, upstream: u }
        chains:
          main:
            - filter: no_such_filter
        bogus: 1
        """, name: "broken.yaml")
        let r = try Self.run(["check", path])
        #expect(r.status == 1)
        let lines = r.stdout.split(separator: "\n").map(String.init)
        #expect(lines.count >= 5, "\(r.stdout)")
        for line in lines {
            #expect(line.hasPrefix(path + ":"), "not positioned: \(line)")
        }
        #expect(lines.contains { $0.hasPrefix("\(path):2:") && $0.contains("99999") })
        #expect(lines.contains { $0.hasPrefix("\(path):4:") && $0.contains("ftp") })
        #expect(lines.contains { $0.hasPrefix("\(path):6:") && $0.contains("missing") })
        #expect(lines.contains { $0.hasPrefix("\(path):9:") && $0.contains("no_such_filter") })
        #expect(lines.contains { $0.hasPrefix("\(path):10:1:") && $0.contains("bogus") })
    }

    @Test func checkReportsYAMLSyntaxErrorsWithPosition() throws {
        let path = try Self.writeTemp("listeners:\n  - address: [unclosed\n", name: "syntax.yaml")
        let r = try Self.run(["check", path])
        #expect(r.status == 1)
        #expect(r.stdout.hasPrefix(path + ":"), "\(r.stdout)")
    }

    @Test func runRefusesABrokenFileAndBadFlags() throws {
        let path = try Self.writeTemp("listeners: 3\n", name: "bad.yaml")
        let broken = try Self.run(["run", "--config", path])
        #expect(broken.status == 1)
        #expect(broken.stderr.contains(path + ":1:"))

        let badFlag = try Self.run(["run", "--workers", "0"])
        #expect(badFlag.status != 0)
        #expect(badFlag.stderr.contains("--workers"))

        let badAddress = try Self.run(["run", "--listen", "nonsense"])
        #expect(badAddress.status != 0)
        #expect(badAddress.stderr.contains("--listen"))

        let missing = try Self.run(["run", "--config", "/nonexistent/sluice.yaml"])
        #expect(missing.status == 1)
        #expect(missing.stderr.contains("/nonexistent/sluice.yaml"))
    }

    @Test func runServesStreamsFromTheDefaultFileAndExitsCleanlyOnSIGTERM() throws {
        let sluice = try Self.startRun(["--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0", "--workers", "2"])
        let process = sluice.process
        let port = sluice.port
        defer { if process.isRunning { process.terminate() } }
        let response = try TestClient.post(port: port, path: "/v1/chat/completions", json: TestClient.chatRequest())
        #expect(response.status == 200)
        #expect(response.ending == .complete)
        #expect(response.sseEvents.last?.data == "[DONE]")
        kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        // Standard output carries only the access log: one JSON line for the one exchange.
        let output = String(decoding: sluice.output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let lines = output.split(separator: "\n")
        #expect(lines.count == 1, "\(output)")
        let entry = try JSONSerialization.jsonObject(with: Data((lines.first ?? "").utf8)) as? [String: Any]
        #expect(entry?["status"] as? Int == 200)
        #expect(entry?["outcome"] as? String == "completed")
    }
}

extension CommandLineTests {
    @Test func checkReportsBadMockSettingsAtTheEndpoint() throws {
        let path = try Self.writeTemp("""
        listeners: [{ address: 127.0.0.1:0 }]
        upstreams:
          m:
            endpoints:
              - mock://local?ttft=soon
        routes: [{ path_prefix: /, chain: c, upstream: m }]
        chains: { c: [] }
        """, name: "mock.yaml")
        let r = try Self.run(["check", path])
        #expect(r.status == 1)
        #expect(r.stdout.hasPrefix("\(path):5:"), "\(r.stdout)")
        #expect(r.stdout.contains("ttft"))
    }
}

extension CommandLineTests {
    @Test func mockRunsTheFakeBackendOnItsOwn() throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.binary)
        process.arguments = ["mock", "--listen", "127.0.0.1:0", "--tokens", "3", "--ttft", "10ms"]
        let out = Pipe()
        process.standardOutput = out
        process.standardError = Pipe()
        try ProcessLaunchGate.run(process)
        defer { process.terminate(); process.waitUntilExit() }
        let line = String(decoding: out.fileHandleForReading.availableData, as: UTF8.self)
        let port = try #require(line.split(separator: ":").last.flatMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) }, "\(line)")
        let response = try TestClient.post(port: port, path: "/v1/chat/completions", json: TestClient.chatRequest())
        #expect(response.status == 200)
        #expect(response.sseEvents.filter { $0.data.contains("\"content\":\" ") }.count == 3)
    }

    /// `--workers` runs several loops on one port; every connection is served whichever loop takes it.
    @Test func mockServesFromSeveralWorkers() throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.binary)
        process.arguments = ["mock", "--listen", "127.0.0.1:0", "--workers", "3", "--tokens", "2", "--ttft", "0"]
        let out = Pipe()
        process.standardOutput = out
        process.standardError = Pipe()
        try ProcessLaunchGate.run(process)
        defer { process.terminate(); process.waitUntilExit() }
        let line = String(decoding: out.fileHandleForReading.availableData, as: UTF8.self)
        let port = try #require(line.split(separator: ":").last.flatMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) }, "\(line)")
        for _ in 0..<12 {
            let response = try TestClient.post(port: port, path: "/v1/chat/completions", json: TestClient.chatRequest())
            #expect(response.status == 200)
            #expect(response.sseEvents.filter { $0.data.contains("\"content\":\" ") }.count == 2)
        }
        #expect(try Self.run(["mock", "--workers", "0"]).status != 0)
    }
}

extension CommandLineTests {
    /// The README's example chain must stay a valid filter file.
    @Test func readmeExampleChainPassesCheck() throws {
        let readme = try String(contentsOf: Self.root.appendingPathComponent("README.md"), encoding: .utf8)
        let start = try #require(readme.range(of: "```yaml\nchains:"))
        let end = try #require(readme.range(of: "```", range: start.upperBound..<readme.endIndex))
        let chain = "chains:" + readme[start.upperBound..<end.lowerBound]
        let path = try Self.writeTemp("""
        listeners: [{ address: 127.0.0.1:0 }]
        upstreams:
          mock: { endpoints: ["mock://local"] }
        routes: [{ path_prefix: /, chain: default, upstream: mock }]
        \(chain)
        """, name: "readme.yaml")
        let r = try Self.run(["check", path])
        #expect(r.stdout == "ok\n", "\(r.stdout)")
    }
}

extension CommandLineTests {
    static func adminVersion(_ port: Int) -> Int? {
        guard let client = try? TestClient(port: port) else { return nil }
        defer { client.close() }
        try? client.sendRaw(Array("GET /admin/chain HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
        guard let body = try? client.readResponse(timeout: .seconds(2)).bodyText,
              let r = body.range(of: "\"version\":") else { return nil }
        return Int(body[r.upperBound...].prefix { $0.isNumber })
    }

    @Test func aSIGHUPRightAfterThePortsArePrintedReloads() throws {
        // Before: the handlers went in on the control loop some milliseconds after the ports were
        // printed, and a SIGHUP in between killed the process (the default action); most starts
        // had no handler yet when "admin on" was printed.
        for _ in 0..<3 {
            let sluice = try Self.startRun(["--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0", "--workers", "1"])
            let process = sluice.process
            defer { if process.isRunning { process.terminate() }; process.waitUntilExit() }
            kill(process.processIdentifier, SIGHUP)
            let log = PipeText(sluice.errors)
            #expect(log.wait(until: .now + .seconds(10)) { $0.contains("reloaded") }, "\(DescriptorLimitTests.ending(process)): \(log.text)")
            #expect(process.isRunning)
        }
    }

    @Test func reloadByCommandAndByWatchingTheFile() throws {
        let file = """
        listeners: [{ address: 127.0.0.1:0 }]
        upstreams:
          m: { endpoints: ["mock://local?ttft=10ms&tokens=2"] }
        routes: [{ path_prefix: /, chain: c, upstream: m }]
        chains: { c: [] }

        """
        let path = try Self.writeTemp(file, name: "live.yaml")
        let sluice = try Self.startRun(["--config", path, "--admin", "127.0.0.1:0", "--workers", "1", "--watch"])
        let process = sluice.process
        let adminPort = sluice.adminPort
        defer { if process.isRunning { process.terminate() }; process.waitUntilExit() }
        #expect(Self.adminVersion(adminPort) == 1)

        // By command.
        let reloaded = try Self.run(["reload", "--admin", "127.0.0.1:\(adminPort)"])
        #expect(reloaded.status == 0, "\(reloaded.stderr)")
        #expect(reloaded.stdout.contains("\"version\":2"))

        // A broken file: positioned errors, exit 1, version unchanged.
        try (file + "bogus: 1\n").write(toFile: path, atomically: true, encoding: .utf8)
        let refused = try Self.run(["reload", "--admin", "127.0.0.1:\(adminPort)"])
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("\(path):6:1:"), "\(refused.stderr)")

        // By watching: fix the file; the proxy reloads by itself.
        try file.replacingOccurrences(of: "tokens=2", with: "tokens=3").write(toFile: path, atomically: true, encoding: .utf8)
        var version: Int?
        let until = Date().addingTimeInterval(10)
        while Date() < until {
            version = Self.adminVersion(adminPort)
            if version == 3 { break }
            Thread.sleep(forTimeInterval: 0.1)
        }
        #expect(version == 3)
    }
}

extension CommandLineTests {
    @Test func aSecondSignalStopsAtOnceDuringADrain() throws {
        let sluice = try Self.startRun(["--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0", "--workers", "1"])
        let process = sluice.process
        let port = sluice.port
        defer { if process.isRunning { process.terminate() } }
        // A stream far longer than the 30 s default drain.
        let client = try TestClient(port: port)
        defer { client.close() }
        try client.send(HTTPRequestHead(method: "POST", target: "/v1/chat/completions",
                                        headers: HTTPHeaders([("host", "x"), ("x-mock-tokens", "5000"), ("x-mock-tps", "20")])),
                        body: Array(TestClient.chatRequest().utf8))
        _ = try client.readHead()
        let started = Date()
        kill(process.processIdentifier, SIGTERM)
        Thread.sleep(forTimeInterval: 0.3)
        #expect(process.isRunning, "the first signal must drain, not exit")
        kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
        #expect(Date().timeIntervalSince(started) < 10)
        #expect(client.isClosedByPeer(within: .seconds(5)))
    }
}

extension CommandLineTests {
    @Test func sigtermEndsStreamsLongerThanTheDrainWithServerShutdownAndExitsZero() throws {
        let path = try Self.writeTemp("""
        listeners: [{ address: 127.0.0.1:0 }]
        admin: { address: 127.0.0.1:0 }
        upstreams:
          m: { endpoints: ["mock://local?ttft=10ms&tokens=5000&tps=20"] }
        routes: [{ path_prefix: /, chain: c, upstream: m }]
        chains:
          c:
            - { filter: drain, config: { timeout: 1200ms } }
        """, name: "drain.yaml")
        let sluice = try Self.startRun(["--config", path, "--workers", "1"])
        defer { if sluice.process.isRunning { sluice.process.terminate() } }
        let client = try TestClient(port: sluice.port)
        defer { client.close() }
        try client.send(HTTPRequestHead(method: "POST", target: "/v1/chat/completions", headers: HTTPHeaders([("host", "x")])),
                        body: Array(TestClient.chatRequest().utf8))
        _ = try client.readHead()
        kill(sluice.process.processIdentifier, SIGTERM)
        let rest = try client.readResponse(timeout: .seconds(10))
        #expect(rest.ending == .truncated)
        #expect(rest.sseEvents.last?.data.contains("\"type\":\"server_shutdown\"") == true)
        sluice.process.waitUntilExit()
        #expect(sluice.process.terminationStatus == 0)
        // Drain progress reads as whole durations: "timeout=1200ms", "left=1s", never raw floats.
        let log = String(decoding: sluice.errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(log.contains("timeout=1200ms"), "\(log)")
        #expect(log.contains("left=1s"), "\(log)")
        #expect(!log.contains("seconds"), "\(log)")
    }
}

extension CommandLineTests {
    /// A port that a running Sluice serves is not shared with a second process: the second one fails to start
    /// with "address in use", for the proxy's listener, the admin listener and `sluice mock` alike.
    @Test func aPortInUseMakesASecondProcessFail() throws {
        let first = try Self.startRun(["--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0", "--workers", "2"])
        defer { first.process.terminate(); first.process.waitUntilExit() }

        let sameListener = try Self.run(["run", "--listen", "127.0.0.1:\(first.port)", "--admin", "127.0.0.1:0"], timeout: .seconds(5))
        #expect(sameListener.status == 1)
        #expect(sameListener.stderr.contains("Address already in use"), "\(sameListener.stderr)")

        let sameAdmin = try Self.run(["run", "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:\(first.adminPort)"], timeout: .seconds(5))
        #expect(sameAdmin.status == 1)
        #expect(sameAdmin.stderr.contains("Address already in use"), "\(sameAdmin.stderr)")

        let mock = try Self.run(["mock", "--listen", "127.0.0.1:\(first.port)", "--workers", "2"], timeout: .seconds(5))
        #expect(mock.status == 1)
        #expect(mock.stderr.contains("Address already in use"), "\(mock.stderr)")

        // The first process still serves, from both workers' loops.
        for _ in 0..<4 {
            let response = try TestClient.post(port: first.port, path: "/v1/chat/completions", json: TestClient.chatRequest())
            #expect(response.ending == .complete)
        }
    }
}

extension CommandLineTests {
    /// `--admin :PORT` means loopback, as `admin: {address: ":PORT"}` does; an admin listener on another
    /// address is a warning in `check` and at start, since it can reload the chain.
    @Test func theAdminListenerStaysOnLoopbackAndExposureIsAWarning() throws {
        let sluice = try Self.startRun(["--listen", "127.0.0.1:0", "--admin", ":0", "--workers", "1"])
        defer { sluice.process.terminate(); sluice.process.waitUntilExit() }
        var bound = Set<String>()
        for line in try String(contentsOfFile: "/proc/\(sluice.process.processIdentifier)/net/tcp", encoding: .utf8).split(separator: "\n").dropFirst() {
            let fields = line.split(separator: " ")
            // State 0A is LISTEN; the local address is HEXIP:HEXPORT.
            guard fields.count > 3, fields[3] == "0A" else { continue }
            let local = fields[1].split(separator: ":")
            if Int(local[1], radix: 16) == sluice.adminPort { bound.insert(String(local[0])) }
        }
        #expect(bound == ["0100007F"], "admin bound on \(bound), not 127.0.0.1")

        let exposed = try Self.writeTemp("""
        listeners: [{ address: 127.0.0.1:0 }]
        admin: { address: 0.0.0.0:0 }
        upstreams: { m: { endpoints: [mock://local] } }
        routes: [{ path_prefix: /, chain: c, upstream: m }]
        chains: { c: [] }
        """, name: "exposed.yaml")
        let check = try Self.run(["check", exposed])
        #expect(check.status == 0)
        #expect(check.stdout.hasPrefix("\(exposed):2:19: warning: the admin listener binds 0.0.0.0, not loopback"), "\(check.stdout)")
        #expect(check.stdout.hasSuffix("ok\n"))
        let run = try Self.run(["run", "--config", exposed, "--listen", "127.0.0.1:0", "--admin", "0.0.0.0:0"], timeout: .seconds(3))
        #expect(run.stderr.contains("warning: the admin listener binds 0.0.0.0, not loopback, and has no auth"), "\(run.stderr)")
    }
}

extension CommandLineTests {
    /// `sluice reload` carries the admin listener's bearer token from an environment variable.
    @Test func reloadPresentsTheAdminToken() throws {
        setenv("SLUICE_TEST_RELOAD_TOKEN", "r3load", 1)
        defer { unsetenv("SLUICE_TEST_RELOAD_TOKEN") }
        let path = try Self.writeTemp("""
        listeners: [{ address: 127.0.0.1:0 }]
        admin: { address: 127.0.0.1:0, auth: { bearer_token_env: SLUICE_TEST_RELOAD_TOKEN } }
        upstreams: { m: { endpoints: [mock://local] } }
        routes: [{ path_prefix: /, chain: c, upstream: m }]
        chains: { c: [] }
        """, name: "auth.yaml")
        let sluice = try Self.startRun(["--config", path, "--workers", "1"])
        defer { sluice.process.terminate(); sluice.process.waitUntilExit() }
        let refused = try Self.run(["reload", "--admin", "127.0.0.1:\(sluice.adminPort)"])
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("401"), "\(refused.stderr)")
        let reloaded = try Self.run(["reload", "--admin", ":\(sluice.adminPort)", "--token-env", "SLUICE_TEST_RELOAD_TOKEN"])
        #expect(reloaded.status == 0, "\(reloaded.stderr)")
        #expect(reloaded.stdout.hasPrefix("reloaded: "), "\(reloaded.stdout)")
    }
}

extension CommandLineTests {
    /// `check` loads TLS files as `run` does: a readable file that is not a PEM certificate, key or CA bundle
    /// is a positioned problem, not "ok".
    @Test func checkRefusesTLSFilesThatAreNotPEM() throws {
        let certs = try TestCertificates.generate()
        let notPEM = try Self.writeTemp("this is not a certificate\n", name: "bogus.pem")
        func file(certificate: String, key: String, ca: String) -> String {
            """
            listeners: [{ address: 127.0.0.1:0, tls: { certificate: \(certificate), key: \(key) } }]
            upstreams: { m: { endpoints: [https://127.0.0.1:1], tls: { ca_file: \(ca) } } }
            routes: [{ path_prefix: /, chain: c, upstream: m }]
            chains: { c: [] }
            """
        }
        let good = try Self.writeTemp(file(certificate: certs.serverCertificate, key: certs.serverKey, ca: certs.caCertificate), name: "good.yaml")
        #expect(try Self.run(["check", good]).stdout == "ok\n")

        let badCert = try Self.writeTemp(file(certificate: notPEM, key: certs.serverKey, ca: certs.caCertificate), name: "cert.yaml")
        let cert = try Self.run(["check", badCert])
        #expect(cert.status == 1)
        #expect(cert.stdout.hasPrefix("\(badCert):1:57: cannot load certificate \(notPEM)"), "\(cert.stdout)")

        let badKey = try Self.writeTemp(file(certificate: certs.serverCertificate, key: certs.caCertificate, ca: certs.caCertificate), name: "key.yaml")
        let key = try Self.run(["check", badKey])
        #expect(key.status == 1)
        #expect(key.stdout.contains("cannot load key \(certs.caCertificate)"), "\(key.stdout)")

        let badCA = try Self.writeTemp(file(certificate: certs.serverCertificate, key: certs.serverKey, ca: notPEM), name: "ca.yaml")
        let ca = try Self.run(["check", badCA])
        #expect(ca.status == 1)
        #expect(ca.stdout.hasPrefix("\(badCA):2:"), "\(ca.stdout)")
        #expect(ca.stdout.contains("cannot load CA bundle \(notPEM)"), "\(ca.stdout)")
    }
}
