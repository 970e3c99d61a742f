import SluiceFilterAPI
import Yams

/// Parses YAML text into `ConfigNode`s that remember where every key and value was written.
public enum YAMLLoader {
    /// Parses one YAML document. An empty document (nothing, or only comments) is a null node
    /// at 1:1.
    ///
    /// Throws the first problem that stops parsing: a YAML syntax error at the position libyaml
    /// reports, a key repeated within one mapping (at the repeat), a non-text key, a merge key
    /// (`<<`), or more than one document. Only one error: after a syntax error the rest of the
    /// file cannot be read reliably.
    ///
    /// Scalars keep their text as written (`on` stays "on", `010` stays "010"): YAML 1.1's
    /// guessing of booleans, octal numbers and dates is left to the readers, which know what
    /// each value is meant to be.
    public static func load(text: String, path: String) throws(ConfigError) -> ConfigNode {
        let root: Yams.Node?
        do {
            root = try parse(text)
        } catch {
            throw YAMLErrorTranslation.configError(for: error, text: text, path: path)
        }
        guard let root else {
            return ConfigNode(value: .null, mark: SourceMark(path: path, line: 1, column: 1))
        }
        var converter = YAMLNodeConverter(path: path, textEnd: TextPosition.end(of: text, path: path))
        return try converter.convert(root)
    }

    /// The one place the library is called, so every parse of a filter file uses the same
    /// settings.
    static func parse(_ text: String) throws -> Yams.Node? {
        // The basic resolver leaves every plain scalar untyped text (we want the text), and
        // makes Yams treat `1` and `"1"` as the same key, as we do. UTF-8 is named explicitly
        // because the default is read from an environment variable and printed to stdout.
        try Yams.compose(yaml: text, Resolver.basic, Constructor.default, .utf8)
    }
}
