import SluiceConfig
import SluiceFilterAPI
import SluiceIO
import SluiceMock

/// Reads a filter file and checks it completely, including each filter's own config through the
/// registry's factories. Used by `sluice run`, `sluice check` and reloads.
public enum FilterFileLoading {
    /// Loads and validates `path`, building filters through `registry`. Returns every problem as
    /// `path:line:col: message` lines on failure.
    public static func load(path: String, registry: FilterRegistry) -> Result<FilterFile, FilterFileErrors> {
        checkWhatTheSchemaCannot(FilterFileLoader.load(path: path, knownFilterTypes: registry.typeNames) { spec, diagnostics in
            check(spec, registry: registry, diagnostics: diagnostics)
        })
    }

    public static func parse(text: String, path: String, registry: FilterRegistry) -> Result<FilterFile, FilterFileErrors> {
        checkWhatTheSchemaCannot(FilterFileLoader.parse(text: text, path: path, knownFilterTypes: registry.typeNames) { spec, diagnostics in
            check(spec, registry: registry, diagnostics: diagnostics)
        })
    }

    /// What the schema cannot check, checked here so a mistake is reported at its position by `check`
    /// instead of failing at start: `mock://` settings (the mock's business) and the contents of TLS
    /// files (a readable file that is not a PEM certificate, key or CA bundle), loaded as `run` loads them.
    private static func checkWhatTheSchemaCannot(_ result: Result<FilterFile, FilterFileErrors>) -> Result<FilterFile, FilterFileErrors> {
        guard case .success(let file) = result else { return result }
        var errors: [ConfigError] = []
        for listener in file.listeners {
            guard let tls = listener.tls else { continue }
            do {
                _ = try TLSContext.server(certificatePath: tls.certificate, keyPath: tls.key)
            } catch {
                let onKey = "\(error)".hasPrefix("cannot load key")
                let mark = (onKey ? tls.keyMark : tls.certificateMark) ?? listener.mark
                errors.append(ConfigError(mark: mark, message: "\(error)"))
            }
        }
        for group in file.upstreams {
            guard let caFile = group.tls.caFile else { continue }
            do {
                _ = try TLSContext.client(verify: true, caFile: caFile)
            } catch {
                errors.append(ConfigError(mark: group.tls.caFileMark ?? group.mark, message: "\(error)"))
            }
        }
        for group in file.upstreams {
            for e in group.endpoints where e.scheme == .mock {
                do {
                    _ = try MockSettings(query: e.mockQuery)
                } catch {
                    errors.append(ConfigError(mark: e.mark, message: "mock endpoint '\(e.url)': \(error.message)"))
                }
            }
        }
        return errors.isEmpty ? result : .failure(FilterFileErrors(errors: errors))
    }

    /// Decodes one filter's config with a throwaway instance, so `sluice check` reports config errors.
    private static func check(_ spec: FilterSpec, registry: FilterRegistry, diagnostics: ConfigDiagnostics) {
        guard let factory = registry.factory(for: spec.type) else { return }
        let config = ConfigMap(spec.config, diagnostics: diagnostics, context: "filter '\(spec.name)'")
        do {
            _ = try factory(FilterSetup(type: spec.type, name: spec.name, chain: "", config: config, previous: nil,
                                        clock: SystemClock(), workers: 1))
            config.finish()
        } catch {
            diagnostics.error("\(error)", at: spec.mark)
        }
    }

}
