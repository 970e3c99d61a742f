import ArgumentParser
import Dispatch
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

    @Option(name: .long, help: "Time to first token, e.g. 150ms.")
    var ttft: String?

    @Option(name: .long, help: "Tokens per second.")
    var tps: Double?

    @Option(name: .long, help: "Tokens per answer.")
    var tokens: Int?

    func run() throws {
        var query: [String] = []
        if let ttft { query.append("ttft=\(ttft)") }
        if let tps { query.append("tps=\(tps)") }
        if let tokens { query.append("tokens=\(tokens)") }
        let settings: MockSettings
        do {
            settings = try MockSettings(query: query.joined(separator: "&"))
        } catch {
            throw ValidationError("\(error)")
        }
        let server = MockServer(settings: settings, host: listen.host, port: listen.port)
        do {
            try server.start()
        } catch {
            printError("sluice mock: cannot start: \(error)")
            throw ExitCode(1)
        }
        printLine("sluice mock: listening on http://\(listen.host):\(server.port)")
        dispatchMain()
    }
}
