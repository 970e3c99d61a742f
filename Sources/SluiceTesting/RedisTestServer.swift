import Foundation
import SluiceRedis

/// A real `redis-server` (Debian's package) for tests: started on a free loopback port with no
/// persistence, stopped by `stop()` or at deinit. `command` talks to it directly, to look at or
/// change what Sluice stored. Owned by one test thread.
public final class RedisTestServer {
    /// The port it listens on (127.0.0.1); kept across `restart()`.
    public let port: Int
    /// Extra `redis-server` arguments (`--requirepass`, an ACL user) given at start.
    public let arguments: [String]
    private var process: Process?

    /// True when `redis-server` is on PATH (tests that need it are skipped otherwise, with a reason).
    public static var isInstalled: Bool { executable != nil }

    private static var executable: String? {
        ["/usr/bin/redis-server", "/usr/local/bin/redis-server", "/usr/sbin/redis-server"].first {
            FileManager.default.isExecutableFile(atPath: $0)
        }
    }

    /// Starts a server and waits (up to 10 s) until it answers PING.
    public init(arguments: [String] = []) throws {
        self.arguments = arguments
        port = try RedisTestServer.freeLoopbackPort()
        try launch()
    }

    deinit { stop() }

    /// Stops the server (SIGKILL: what an outage looks like to clients) and waits for it to exit.
    public func stop() {
        guard let process else { return }
        self.process = nil
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    /// Starts the server again on the same port, empty, after `stop()`.
    public func restart() throws {
        stop()
        try launch()
    }

    /// Sends one command on a fresh connection and returns the answer (waits up to `timeout`).
    @discardableResult
    public func command(_ parts: String..., timeout: Duration = .seconds(5)) throws -> RESPValue {
        try command(parts, timeout: timeout)
    }

    /// Sends one command on a fresh connection and returns the answer (waits up to `timeout`).
    @discardableResult
    public func command(_ parts: [String], timeout: Duration = .seconds(5)) throws -> RESPValue {
        try Self.command(parts, port: port, auth: authCommand, timeout: timeout)
    }

    /// Sends one command to the server on `port` over a fresh connection, after `auth` when given,
    /// and returns the answer. Any thread.
    @discardableResult
    public static func command(_ parts: [String], port: Int, auth: [String]? = nil, timeout: Duration = .seconds(5)) throws -> RESPValue {
        let deadline = ContinuousClock.now + timeout
        let socket = try LoopbackSocket(host: "127.0.0.1", port: port, deadline: deadline)
        defer { socket.close() }
        if let auth { try socket.write(RESPCommand(strings: auth).encoded(), deadline: deadline) }
        try socket.write(RESPCommand(strings: parts).encoded(), deadline: deadline)
        var parser = RESPParser()
        var answers: [RESPValue] = []
        while answers.count < (auth == nil ? 1 : 2) {
            do {
                if let value = try parser.next() {
                    answers.append(value)
                    continue
                }
            } catch {
                throw TestClientError.connectFailed("redis answered bytes that are not RESP: \(error)")
            }
            switch socket.read(deadline: deadline) {
            case .bytes(let bytes): parser.append(bytes)
            case .closed: throw TestClientError.closed
            case .timedOut: throw TestClientError.timedOut("an answer from redis to \(parts.first ?? "")")
            }
        }
        return answers[answers.count - 1]
    }

    /// `AUTH` for `command` when the server was started with `--requirepass`.
    private var authCommand: [String]? {
        guard let index = arguments.firstIndex(of: "--requirepass"), index + 1 < arguments.count else { return nil }
        return ["AUTH", arguments[index + 1]]
    }

    private func launch() throws {
        guard let executable = Self.executable else {
            throw TestClientError.connectFailed("redis-server is not installed (scripts/install-deps.sh --tests installs it)")
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                             "--enable-debug-command", "local", "--loglevel", "warning"] + arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try ProcessLaunchGate.run(process)
        self.process = process
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline {
            if let pong = try? command("PING", timeout: .milliseconds(200)), pong == .simple("PONG") { return }
            guard process.isRunning else { break }
            Thread.sleep(forTimeInterval: 0.02)
        }
        stop()
        throw TestClientError.connectFailed("redis-server did not answer PING on port \(port)")
    }

    /// A port nothing listens on now: bound to 127.0.0.1:0, read, and released.
    public static func freeLoopbackPort() throws -> Int {
        let fd = socket(AF_INET, streamSocketType, 0)
        guard fd >= 0 else { throw TestClientError.connectFailed("socket(): \(errno)") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                bind(fd, pointer, length) == 0 && getsockname(fd, pointer, &length) == 0
            }
        }
        guard bound else { throw TestClientError.connectFailed("bind(127.0.0.1:0): \(errno)") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
