import SluiceConfig
import SluiceFilterAPI
import SluiceMock

/// Reads a filter file and checks it completely, including each filter's own config through the
/// registry's factories. Used by `sluice run`, `sluice check` and reloads.
public enum FilterFileLoading {
    /// Loads and validates `path`, building filters through `registry`. Returns every problem as
    /// `path:line:col: message` lines on failure.
    public static func load(path: String, registry: FilterRegistry) -> Result<FilterFile, FilterFileErrors> {
        checkMockEndpoints(FilterFileLoader.load(path: path, knownFilterTypes: registry.typeNames) { spec, diagnostics in
            check(spec, registry: registry, diagnostics: diagnostics)
        })
    }

    public static func parse(text: String, path: String, registry: FilterRegistry) -> Result<FilterFile, FilterFileErrors> {
        checkMockEndpoints(FilterFileLoader.parse(text: text, path: path, knownFilterTypes: registry.typeNames) { spec, diagnostics in
            check(spec, registry: registry, diagnostics: diagnostics)
        })
    }

    /// `mock://` settings are the mock's business, so the schema cannot check them; check them here
    /// so a typo is reported at its position instead of failing at start.
    private static func checkMockEndpoints(_ result: Result<FilterFile, FilterFileErrors>) -> Result<FilterFile, FilterFileErrors> {
        guard case .success(let file) = result else { return result }
        var errors: [ConfigError] = []
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
