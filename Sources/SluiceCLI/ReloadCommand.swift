import ArgumentParser
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// `sluice reload`: asks a running Sluice to reload its filter file, through its admin listener.
struct ReloadCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reload",
        abstract: "Reload the filter file of a running Sluice (POST /admin/reload on its admin listener).",
        discussion: "Prints the new chain version, or every problem as PATH:LINE:COL: message (the running chain then stays in force)."
    )

    @Option(name: .long, help: "The admin listener of the running Sluice.")
    var admin: SocketAddressArgument = SocketAddressArgument(argument: "127.0.0.1:9901")!

    @Option(name: .long, help: "An environment variable holding the admin listener's bearer token (admin.auth.bearer_token).")
    var tokenEnv: String?

    @Option(name: .long, help: "An environment variable holding USER:PASSWORD for the admin listener's basic auth.")
    var basicEnv: String?

    func validate() throws {
        if tokenEnv != nil && basicEnv != nil { throw ValidationError("give --token-env or --basic-env, not both") }
        for name in [tokenEnv, basicEnv].compactMap({ $0 }) where (ProcessInfo.processInfo.environment[name] ?? "").isEmpty {
            throw ValidationError("the environment variable \(name) is not set (or is empty)")
        }
    }

    /// The Authorization field value the options ask for, or nil.
    private var authorization: String? {
        let environment = ProcessInfo.processInfo.environment
        if let tokenEnv, let token = environment[tokenEnv] { return "Bearer \(token)" }
        if let basicEnv, let pair = environment[basicEnv] { return "Basic \(Data(pair.utf8).base64EncodedString())" }
        return nil
    }

    func run() throws {
        let answer: (status: Int, body: String)
        do {
            answer = try AdminRequest.post(host: admin.host(default: "127.0.0.1"), port: admin.port, path: "/admin/reload",
                                           authorization: authorization)
        } catch {
            printError("sluice reload: \(error)")
            throw ExitCode(1)
        }
        if answer.status == 200 {
            printLine("reloaded: \(answer.body.trimmingCharacters(in: .whitespacesAndNewlines))")
            return
        }
        // The body lists the positioned problems under error.errors; print one per line.
        let json = try? JSONSerialization.jsonObject(with: Data(answer.body.utf8)) as? [String: Any]
        let errors = ((json?["error"] as? [String: Any])?["errors"] as? [String]) ?? []
        if errors.isEmpty { printError("sluice reload: the admin listener answered \(answer.status): \(answer.body)") }
        for e in errors { printError(e) }
        throw ExitCode(1)
    }
}

/// A one-shot HTTP/1.1 request to a loopback admin listener, blocking, with a 30 s limit.
enum AdminRequest {
    struct Failure: Error, CustomStringConvertible { var description: String }

    static func post(host: String, port: Int, path: String, authorization: String? = nil) throws -> (status: Int, body: String) {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port)).bigEndian
        guard inet_pton(AF_INET, host, &address.sin_addr) == 1 else { throw Failure(description: "\(host) is not an IPv4 address") }
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "socket() failed") }
        defer { close(fd) }
        var limit = timeval(tv_sec: 30, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else {
            throw Failure(description: "cannot reach the admin listener at \(host):\(port): \(String(cString: strerror(errno)))")
        }
        let credentials = authorization.map { "Authorization: \($0)\r\n" } ?? ""
        var request = "POST \(path) HTTP/1.1\r\nHost: \(host):\(port)\r\n\(credentials)Content-Length: 0\r\nConnection: close\r\n\r\n"
        _ = request.withUTF8 { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = recv(fd, &buffer, buffer.count, 0)
            if n <= 0 { break }
            bytes += buffer[0..<n]
        }
        let text = String(decoding: bytes, as: UTF8.self)
        guard text.hasPrefix("HTTP/1.1 "), let status = Int(text.dropFirst(9).prefix(3)) else {
            throw Failure(description: "no HTTP answer from \(host):\(port)")
        }
        let body = text.range(of: "\r\n\r\n").map { String(text[$0.upperBound...]) } ?? ""
        return (status, body)
    }
}
