import ArgumentParser
import Logging
import SluiceFilterAPI
import SluiceFilters
import SluiceIO
import Synchronization

/// The `sluice` command line. A binary that adds its own filters registers them, then calls
/// `SluiceCommand.main(registry:)`:
///
/// ```swift
/// let registry = BuiltinFilters.registry()
/// registry.register("api_key_auth") { setup in try APIKeyAuth(setup) }
/// SluiceCommand.main(registry: registry)
/// ```
public struct SluiceCommand: ParsableCommand {
    /// The subcommands: `run`, `check`, `reload`, `mock`.
    public static let configuration = CommandConfiguration(
        commandName: "sluice",
        abstract: "A reverse proxy for streaming LLM traffic.",
        subcommands: [RunCommand.self, CheckCommand.self, ReloadCommand.self, MockCommand.self],
        defaultSubcommand: nil
    )

    /// Made by ArgumentParser; call `main(registry:)` instead.
    public init() {}

    /// The registry the subcommands use. Set by `main(registry:)` before parsing.
    static let registryBox = Mutex<FilterRegistry?>(nil)

    static var registry: FilterRegistry {
        registryBox.withLock { box in
            if box == nil { box = BuiltinFilters.registry() }
            return box!
        }
    }

    /// Parses the process arguments and runs the subcommand with `registry`'s filter types.
    public static func main(registry: FilterRegistry) {
        registryBox.withLock { $0 = registry }
        EventLoop.unblockControlSignals()
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = .info
            return handler
        }
        main()
    }
}
