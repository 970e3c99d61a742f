import ArgumentParser
import Dispatch
import SluiceIO
import SluiceMock

/// `sluice mock`: the fake LLM backend on its own.
struct MockCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mock",
        abstract: "Run the fake LLM backend (OpenAI- and Anthropic-style, with fault headers).",
        discussion: """
        Endpoints: POST /v1/chat/completions, POST /v1/completions, GET /v1/models, POST /v1/messages.
        Faults per request by header: x-mock-status, x-mock-retry-after, x-mock-head-delay, x-mock-stall-after,
        x-mock-reset-after, x-mock-close-after, x-mock-malformed-after, x-mock-trickle, x-mock-error-event,
        x-mock-ttft, x-mock-tps, x-mock-tokens.
        """
    )

    @Option(name: .long, help: "Where to listen.")
    var listen: SocketAddressArgument = SocketAddressArgument(argument: "127.0.0.1:8000")!

    @Option(name: .long, help: "Time to first token, e.g. 150ms; or drawn per request: 80ms:9,1.5s:1 or lognormal:200ms:0.8.")
    var ttft: String?

    @Option(name: .long, help: "Seed of the per-request time-to-first-token draws.")
    var seed: Int?

    @Option(name: .long, help: "Tokens per second.")
    var tps: Double?

    @Option(name: .long, help: "Tokens per answer.")
    var tokens: Int?

    @Option(name: .long, help: "Event-loop threads, all accepting on the one listening socket.")
    var workers: Int = 1

    func validate() throws {
        guard (1...64).contains(workers) else { throw ValidationError("--workers must be from 1 to 64") }
    }

    func run() throws {
        var query: [String] = []
        if let ttft { query.append("ttft=\(ttft)") }
        if let seed { query.append("seed=\(seed)") }
        if let tps { query.append("tps=\(tps)") }
        if let tokens { query.append("tokens=\(tokens)") }
        let settings: MockSettings
        do {
            settings = try MockSettings(query: query.joined(separator: "&"))
        } catch {
            throw ValidationError("\(error)")
        }
        // One socket (its port may be 0), each server accepting on it from its own loop.
        // No journal: a long load run must not keep every request it served.
        var servers: [MockServer] = []
        do {
            let socket = try ListeningSocket(host: listen.host(default: "0.0.0.0"), port: listen.port)
            for _ in 0..<workers {
                let server = MockServer(settings: settings, socket: socket, keepsJournal: false)
                try server.start()
                servers.append(server)
            }
        } catch {
            printError("sluice mock: cannot start: \(error)")
            throw ExitCode(1)
        }
        printLine("sluice mock: listening on http://\(listen.host(default: "0.0.0.0")):\(servers[0].port)")
        dispatchMain()
    }
}
