import Yams

/// Finds where a duplicated key repeats.
///
/// Yams stops at the first mapping with a repeated key and reports only where the key first
/// appears. The repeat is usually the line the user just added and the one worth pointing at, so
/// we rename the first occurrence in a copy of the text (a private-use character in front of
/// it), parse again, and read the position of the key that is left.
enum DuplicateKeyLocator {
    private static let marker: Unicode.Scalar = "\u{E000}"

    /// The position of the second occurrence of `key`, whose first occurrence is at `first`, or
    /// nil when it cannot be found with certainty (the caller then points at the first).
    static func secondOccurrence(
        of key: String, firstAt first: Yams.Mark, in text: String
    ) -> (line: Int, column: Int)? {
        guard !text.unicodeScalars.contains(marker),
              let index = TextPosition.scalarIndex(atLine: first.line, column: first.column, in: text) else {
            return nil
        }
        var renamed = text.unicodeScalars
        // Inside the quotes for a quoted key, so it stays the same kind of scalar.
        let opening = renamed[index]
        let insertAt = (opening == "\"" || opening == "'") ? renamed.index(after: index) : index
        renamed.insert(marker, at: insertAt)
        let renamedKey = String(marker) + key

        let found: Yams.Mark?
        do {
            found = try YAMLLoader.parse(String(renamed)).flatMap { mappingMark(of: key, besides: renamedKey, in: $0) }
        } catch let YamlError.duplicatedKeysInMapping(duplicates, context) where duplicates.first == key {
            // Repeated three or more times: the reported first occurrence is now the second.
            found = context.mark
        } catch {
            found = nil
        }
        guard let found else { return nil }
        // The marker shifted the rest of its line by one column.
        let shift = found.line == first.line && found.column > first.column ? 1 : 0
        return (found.line, found.column - shift)
    }

    /// The position of `key` in the mapping that also holds `renamedKey`.
    private static func mappingMark(of key: String, besides renamedKey: String, in node: Yams.Node) -> Yams.Mark? {
        switch node {
        case .mapping(let mapping):
            let keys = mapping.keys
            if keys.contains(where: { $0.scalar?.string == renamedKey }),
               let original = keys.first(where: { $0.scalar?.string == key }) {
                return original.mark
            }
            for value in mapping.values {
                if let found = mappingMark(of: key, besides: renamedKey, in: value) { return found }
            }
            for nested in keys {
                if let found = mappingMark(of: key, besides: renamedKey, in: nested) { return found }
            }
            return nil
        case .sequence(let sequence):
            for item in sequence {
                if let found = mappingMark(of: key, besides: renamedKey, in: item) { return found }
            }
            return nil
        case .scalar, .alias:
            return nil
        }
    }
}
