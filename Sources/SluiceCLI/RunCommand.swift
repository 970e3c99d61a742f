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
        // `:PORT` means what it means in the filter file: every IPv4 address for a listener, loopback for admin.
        let listenHost = listen?.host(default: "0.0.0.0")
        let adminHost = admin?.host(default: "127.0.0.1") ?? file.admin?.host
        if let listen, let listenHost { options.listen = (listenHost, listen.port) }
        if let admin, let adminHost { options.admin = (adminHost, admin.port) }
        options.logger = Logger(label: "sluice")
        let engine = Engine(file: file, registry: registry, options: options)
        do {
            try engine.start()
        } catch {
            printError("sluice: cannot start: \(error)")
            throw ExitCode(1)
        }
        // Before the ports are printed: whoever reads them may send SIGHUP at once.
        engine.handleSignals()
        for (spec, port) in zip(file.listeners, engine.listenerPorts) {
            let host = spec.name == file.listeners.first?.name ? (listenHost ?? spec.host) : spec.host
            printError("sluice: listening on \(spec.tls == nil ? "http" : "https")://\(host):\(port) (\(spec.name))")
        }
        if let adminPort = engine.adminPort {
            let host = adminHost ?? "127.0.0.1"
            printError("sluice: admin on http://\(host):\(adminPort)")
            if let warning = AdminExposure.warning(host: host, auth: file.admin?.auth) { printError("sluice: warning: \(warning)") }
        }
        if watch { engine.watchFilterFile() }
        engine.run()
    }
}
