import Foundation
import SluiceFilterAPI

/// Reads and validates filter files.
public enum FilterFileLoader {
    /// Reads the file at `path` and validates it; see `parse(text:path:knownFilterTypes:checkFilter:)`.
    /// A file that cannot be read is reported as a single error at `path:1:1`.
    public static func load(
        path: String, knownFilterTypes: Set<String>,
        checkFilter: (FilterSpec, ConfigDiagnostics) -> Void = { _, _ in }
    ) -> Result<FilterFile, FilterFileErrors> {
        let start = SourceMark(path: path, line: 1, column: 1)
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            return .failure(FilterFileErrors(errors: [ConfigError("no such file", at: start)]))
        }
        guard !isDirectory.boolValue else {
            return .failure(FilterFileErrors(errors: [ConfigError("is a directory, not a filter file", at: start)]))
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            return .failure(FilterFileErrors(errors: [ConfigError("cannot read the file: \(openFailure(path))", at: start)]))
        }
        guard let text = String(data: data, encoding: .utf8) else {
            return .failure(FilterFileErrors(errors: [ConfigError("the file is not valid UTF-8 text", at: start)]))
        }
        return parse(text: text, path: path, knownFilterTypes: knownFilterTypes, checkFilter: checkFilter)
    }

    /// Why `path` cannot be opened for reading, in the system's words ("Permission denied", "Too many
    /// open files" for a process at its descriptor limit).
    private static func openFailure(_ path: String) -> String {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd < 0 else {
            close(fd)
            return "it could be opened but not read"
        }
        return String(cString: strerror(errno))
    }

    /// Validates the filter file `text` and returns it, or every problem sorted by position.
    ///
    /// `path` is used in positions and as the base for relative file paths in the file (TLS
    /// certificates and keys, CA files), which must exist and be readable.
    ///
    /// `knownFilterTypes` are the registered filter types; an entry of any other type is
    /// reported as `unknown filter type 'x' (known: a, b, c)`. `checkFilter` is called once for
    /// each entry of a known type, including entries in chains no route uses, to decode the
    /// filter's `config` and record its problems in the diagnostics it is given (typically with
    /// `ConfigMap(spec.config, diagnostics:context:)` and `finish()`).
    ///
    /// A YAML syntax error stops reading, so it is reported alone.
    public static func parse(
        text: String, path: String, knownFilterTypes: Set<String>,
        checkFilter: (FilterSpec, ConfigDiagnostics) -> Void = { _, _ in }
    ) -> Result<FilterFile, FilterFileErrors> {
        let root: ConfigNode
        do {
            root = try YAMLLoader.load(text: text, path: path)
        } catch {
            return .failure(FilterFileErrors(errors: [error]))
        }
        let diagnostics = ConfigDiagnostics()
        let decoder = FilterFileDecoder(path: path, diagnostics: diagnostics, knownFilterTypes: knownFilterTypes)
        let file = decoder.decode(root, checkFilter: checkFilter)
        guard diagnostics.isEmpty else {
            return .failure(FilterFileErrors(errors: diagnostics.sortedErrors))
        }
        return .success(file)
    }
}
