import ArgumentParser
import Logging
import SluiceConfig
import SluiceEngine

/// `sluice run`: starts the proxy.
struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Start the proxy.",
        discussion: "Without --config, reads filters/default.yaml, which serves streams from a mock LLM inside the process."
    )

    @Option(name: .long, help: "The filter file.")
    var config: String = "filters/default.yaml"

    @Option(name: .long, help: "Replace the address of the file's first listener.")
    var listen: SocketAddressArgument?

    @Option(name: .long, help: "Replace the admin listener's address.")
    var admin: SocketAddressArgument?

    @Option(name: .long, help: "Worker threads (default: the number of cores).")
    var workers: Int?

    @Flag(name: .long, help: "Reload the filter file whenever it changes.")
    var watch = false

    func validate() throws {
        if let workers, !(1...256).contains(workers) {
            throw ValidationError("--workers must be between 1 and 256, not \(workers)")
        }
    }

    func run() throws {
        let registry = SluiceCommand.registry
        let file: FilterFile
        switch FilterFileLoading.load(path: config, registry: registry) {
        case .success(let loaded):
            file = loaded
        case .failure(let errors):
            for e in errors.errors { printError(e.description) }
            throw ExitCode(1)
        }
        var options = EngineOptions()
        if let workers { options.workers = workers }
        if let listen { options.listen = (listen.host, listen.port) }
        if let admin { options.admin = (admin.host, admin.port) }
        options.logger = Logger(label: "sluice")
        let engine = Engine(file: file, registry: registry, options: options)
        do {
            try engine.start()
        } catch {
            printError("sluice: cannot start: \(error)")
            throw ExitCode(1)
        }
        for (spec, port) in zip(file.listeners, engine.listenerPorts) {
            let host = spec.name == file.listeners.first?.name ? (listen?.host ?? spec.host) : spec.host
            printError("sluice: listening on \(spec.tls == nil ? "http" : "https")://\(host):\(port) (\(spec.name))")
        }
        if let adminPort = engine.adminPort { printError("sluice: admin on http://\(admin?.host ?? file.admin?.host ?? "127.0.0.1"):\(adminPort)") }
        if watch { engine.watchFilterFile() }
        engine.run()
    }
}
