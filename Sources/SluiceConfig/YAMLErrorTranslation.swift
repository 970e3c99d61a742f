import SluiceFilterAPI
import Yams

/// Turns what Yams throws into one positioned `ConfigError` worded for the person editing the
/// file.
enum YAMLErrorTranslation {
    static func configError(for error: any Error, text: String, path: String) -> ConfigError {
        let start = SourceMark(path: path, line: 1, column: 1)
        guard let yamlError = error as? YamlError else {
            return ConfigError("cannot parse YAML: \(error)", at: start)
        }
        let end = TextPosition.end(of: text, path: path)
        func at(_ mark: Yams.Mark) -> SourceMark {
            min(SourceMark(path: path, line: mark.line, column: mark.column), end)
        }
        switch yamlError {
        case .scanner(let context, let problem, let mark, _),
             .parser(let context, let problem, let mark, _):
            return ConfigError(syntaxMessage(problem: problem, context: context, at: mark, in: text), at: at(mark))
        case .composer(let context, let problem, let mark, _):
            if problem == "but found another document" {
                return ConfigError("a filter file holds one YAML document; found a second one ('---')", at: at(mark))
            }
            return ConfigError(syntaxMessage(problem: problem, context: context, at: mark, in: text), at: at(mark))
        case .reader(let problem, let offset, _, _):
            let mark = offset.map { TextPosition.mark(ofCharacterOffset: $0, in: text, path: path) } ?? start
            return ConfigError("YAML syntax error: \(problem)", at: mark)
        case .duplicatedKeysInMapping(let duplicates, let context):
            let key = duplicates.first ?? "?"
            let first = context.mark
            if let repeated = DuplicateKeyLocator.secondOccurrence(of: key, firstAt: first, in: text) {
                return ConfigError("duplicate key '\(key)' (first defined at line \(first.line), column \(first.column))",
                                   at: SourceMark(path: path, line: repeated.line, column: repeated.column))
            }
            return ConfigError("duplicate key '\(key)': it appears more than once in this mapping", at: at(first))
        default:
            return ConfigError("cannot parse YAML: \(yamlError)", at: start)
        }
    }

    /// libyaml's problem (`did not find expected key`) with its context (`while parsing a block
    /// mapping` at some line), and a hint for the mistake behind most reports: tabs.
    private static func syntaxMessage(
        problem: String, context: YamlError.Context?, at mark: Yams.Mark, in text: String
    ) -> String {
        var message = "YAML syntax error: \(problem)"
        // libyaml often names a context that starts where the problem is; that adds nothing.
        if let context, context.mark.line != mark.line || context.mark.column != mark.column {
            message += " (\(context.text) at line \(context.mark.line), column \(context.mark.column))"
        }
        if TextPosition.scalar(atLine: mark.line, column: mark.column, in: text) == "\t" {
            message += "; YAML does not allow tabs for indentation, use spaces"
        } else if containsBareIPv6Address(TextPosition.line(mark.line, of: text)) {
            message += "; put IPv6 addresses in quotes, e.g. \"[::1]:8080\""
        }
        return message
    }

    /// Whether `line` has something like `[::1]` unquoted, which YAML reads as the start of a
    /// list and then fails on: the usual cause of errors on a line with an IPv6 address.
    private static func containsBareIPv6Address(_ line: Substring) -> Bool {
        var rest = line[...]
        while let open = rest.firstIndex(of: "[") {
            let afterOpen = rest[rest.index(after: open)...]
            guard let close = afterOpen.firstIndex(of: "]") else { return false }
            let inside = afterOpen[..<close]
            if inside.filter({ $0 == ":" }).count >= 2, HostSyntax.isIPv6Address(inside),
               !line[..<open].contains("\""), !line[..<open].contains("'") {
                return true
            }
            rest = afterOpen[close...]
        }
        return false
    }
}
