import SluiceConfig
import SluiceFilterAPI

/// Reads a filter file and checks it completely, including each filter's own config through the
/// registry's factories. Used by `sluice run`, `sluice check` and reloads.
public enum FilterFileLoading {
    /// Loads and validates `path`, building filters through `registry`. Returns every problem as
    /// `path:line:col: message` lines on failure.
    public static func load(path: String, registry: FilterRegistry) -> Result<FilterFile, FilterFileErrors> {
        FilterFileLoader.load(path: path, knownFilterTypes: registry.typeNames) { spec, diagnostics in
            check(spec, registry: registry, diagnostics: diagnostics)
        }
    }

    public static func parse(text: String, path: String, registry: FilterRegistry) -> Result<FilterFile, FilterFileErrors> {
        FilterFileLoader.parse(text: text, path: path, knownFilterTypes: registry.typeNames) { spec, diagnostics in
            check(spec, registry: registry, diagnostics: diagnostics)
        }
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
