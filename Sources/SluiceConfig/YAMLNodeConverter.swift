import SluiceFilterAPI
import Yams

/// Turns a Yams node tree into `ConfigNode`s, checking what YAML allows but a config must not
/// have: keys that are not text, merge keys, keys that repeat.
struct YAMLNodeConverter {
    let path: String
    /// Aliases share one node in Yams but are copied here, so a small file of nested aliases
    /// (the "billion laughs") could expand without bound; this caps the expanded size.
    private var remainingNodes = 1_000_000

    /// The end of the text (`TextPosition.end`); later marks are moved to it.
    let textEnd: SourceMark

    init(path: String, textEnd: SourceMark) {
        self.path = path
        self.textEnd = textEnd
    }

    mutating func convert(_ node: Yams.Node) throws(ConfigError) -> ConfigNode {
        remainingNodes -= 1
        guard remainingNodes >= 0 else {
            throw ConfigError(
                "the document is too large: more than 1000000 values once aliases are expanded",
                at: mark(node.mark))
        }
        switch node {
        case .scalar(let scalar):
            return convert(scalar)
        case .sequence(let sequence):
            var items: [ConfigNode] = []
            items.reserveCapacity(sequence.count)
            for item in sequence {
                items.append(try convert(item))
            }
            return ConfigNode(value: .sequence(items), mark: mark(sequence.mark))
        case .mapping(let mapping):
            return ConfigNode(value: .mapping(try convertEntries(of: mapping)), mark: mark(mapping.mark))
        case .alias(let alias):
            // Yams substitutes aliases while composing; one left over means a Yams change.
            throw ConfigError("unresolved YAML alias '\(alias.anchor)'", at: mark(alias.mark))
        }
    }

    private mutating func convertEntries(of mapping: Yams.Node.Mapping) throws(ConfigError) -> [ConfigNode.Entry] {
        var entries: [ConfigNode.Entry] = []
        var firstMarks: [String: SourceMark] = [:]
        for (keyNode, valueNode) in mapping {
            let keyMark = mark(keyNode.mark)
            guard case .scalar(let keyScalar) = keyNode else {
                throw ConfigError("a mapping key must be text, got a \(keyNode.sequence != nil ? "list" : "mapping")",
                                  at: keyMark)
            }
            let key = keyScalar.string
            if key == "<<", keyScalar.style == .plain {
                throw ConfigError("YAML merge keys ('<<') are not supported; write the keys out", at: keyMark)
            }
            // Yams catches most repeats itself; this catches keys that are equal as text but
            // were told apart by a tag (`!!int 1` and `1`).
            if let first = firstMarks[key] {
                throw ConfigError("duplicate key '\(key)' (first defined at line \(first.line), column \(first.column))",
                                  at: keyMark)
            }
            firstMarks[key] = keyMark
            entries.append((key: key, keyMark: keyMark, value: try convert(valueNode)))
        }
        return entries
    }

    private func convert(_ scalar: Yams.Node.Scalar) -> ConfigNode {
        // `scalar.tag` is the tag as written (not resolved): empty for an untagged plain
        // scalar, `tag:yaml.org,2002:str` for quoted ones and `!!str`.
        let tag = scalar.tag.description
        let nodeMark = mark(scalar.mark)
        if tag == "tag:yaml.org,2002:null"
            || (scalar.style == .plain && tag.isEmpty && Self.nullSpellings.contains(scalar.string)) {
            return ConfigNode(value: .null, mark: nodeMark)
        }
        let isText = scalar.style != .plain || tag == "tag:yaml.org,2002:str"
        return ConfigNode(value: .scalar(scalar.string), mark: nodeMark, isQuotedScalar: isText)
    }

    /// The plain scalars YAML reads as null (an empty value is the common one: `key:`).
    private static let nullSpellings: Set<String> = ["", "~", "null", "Null", "NULL"]

    private func mark(_ mark: Yams.Mark?) -> SourceMark {
        let position = SourceMark(path: path, line: mark?.line ?? 1, column: mark?.column ?? 1)
        return min(position, textEnd)
    }
}
