import SluiceConfig
import SluiceFilterAPI
import SluiceFilters

/// `filterfile`: a filter file's text (invalid UTF-8 repaired, as `String(decoding:)` does), loaded
/// by `FilterFileLoader.parse` with the built-in filter types, each filter's `config` decoded by its
/// factory as `sluice check` does.
///
/// Checks: loading never crashes, whatever the text; it answers a file or at least one error; every
/// error has a message and a position inside the text (line from 1 to the number of lines, column
/// from 1 to one past the line's end), in the file's own path; errors come sorted by position.
/// The path is in a folder that does not exist, so files the text names (certificates, CA files)
/// are never read.
enum FilterFileTarget {
    static let target = FuzzTarget(
        name: "filterfile",
        summary: "FilterFileLoader.parse: never crashes; every error has a message and a position inside the text"
    ) { input throws(FuzzFinding) in try check(input) }

    static let path = "/nonexistent/sluice-fuzz/filters.yaml"
    static let registry = BuiltinFilters.registry()

    static func check(_ input: UnsafeRawBufferPointer) throws(FuzzFinding) {
        let text = String(decoding: input, as: UTF8.self)
        let result = FilterFileLoader.parse(text: text, path: path, knownFilterTypes: registry.typeNames) { spec, diagnostics in
            guard let factory = registry.factory(for: spec.type) else { return }
            let config = ConfigMap(spec.config, diagnostics: diagnostics, context: "filter '\(spec.name)'")
            _ = try? factory(FilterSetup(type: spec.type, name: spec.name, chain: "", config: config, previous: nil,
                                         clock: ManualClock(), workers: 1))
            config.finish()
        }
        guard case .failure(let errors) = result else { return }
        guard !errors.errors.isEmpty else { throw FuzzFinding("the loader failed with no error") }
        let lines = TextLines(text)
        for error in errors.errors {
            let mark = error.mark
            guard !error.message.isEmpty else { throw FuzzFinding("an error without a message", details: "\(error)") }
            guard mark.path == path else { throw FuzzFinding("an error in another file", details: "\(error)") }
            guard lines.contains(line: mark.line, column: mark.column) else {
                throw FuzzFinding(
                    "an error positioned outside the text",
                    details: "\(error)\n\(lines.count) lines; line \(mark.line) has \(lines.length(of: mark.line) ?? -1) columns")
            }
        }
        guard errors.errors.map(\.mark) == errors.errors.map(\.mark).sorted() else {
            throw FuzzFinding("errors are not sorted by position", details: errors.errors.map(\.description).joined(separator: "\n"))
        }
    }
}

/// The lines of a text as positions count them: split at LF, CRLF, CR, and U+0085, U+2028 and U+2029
/// (YAML 1.1's line breaks, which libyaml follows); columns in Unicode scalars.
struct TextLines {
    private let lengths: [Int]

    init(_ text: String) {
        var lengths: [Int] = []
        var current = 0
        var previousWasCR = false
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\n" where previousWasCR:
                previousWasCR = false
            case "\n", "\r", "\u{85}", "\u{2028}", "\u{2029}":
                lengths.append(current)
                current = 0
                previousWasCR = scalar == "\r"
            default:
                current += 1
                previousWasCR = false
            }
        }
        lengths.append(current)
        self.lengths = lengths
    }

    var count: Int { lengths.count }

    func length(of line: Int) -> Int? { line >= 1 && line <= lengths.count ? lengths[line - 1] : nil }

    /// True when `line:column` names a character of the text or the end of a line.
    func contains(line: Int, column: Int) -> Bool {
        guard let length = length(of: line) else { return false }
        return column >= 1 && column <= length + 1
    }
}
