import ArgumentParser
import SluiceConfig
import SluiceEngine

/// `sluice check PATH`: validates a filter file.
struct CheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Validate a filter file: prints ok, or every problem as PATH:LINE:COL: message."
    )

    @Argument(help: "The filter file to check.")
    var path: String

    func run() throws {
        switch FilterFileLoading.load(path: path, registry: SluiceCommand.registry) {
        case .success(let file):
            if let admin = file.admin, let warning = AdminExposure.warning(host: admin.host, auth: admin.auth) {
                let mark = admin.addressMark.map { "\($0.path):\($0.line):\($0.column): " } ?? ""
                printLine("\(mark)warning: \(warning)")
            }
            printLine("ok")
        case .failure(let errors):
            for e in errors.errors { printLine(e.description) }
            throw ExitCode(1)
        }
    }
}
