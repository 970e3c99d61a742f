import SluiceFilterAPI

/// Converts between libyaml's line/column positions and places in the text, for the error
/// paths that need to look at the text itself. Lines break where libyaml breaks them, as YAML 1.1
/// says: at `\n`, `\r\n` and `\r`, and also at U+0085 (NEL), U+2028 and U+2029, so every position
/// in a message (libyaml's or ours) counts lines the same way. Columns count Unicode scalars, as
/// libyaml does.
enum TextPosition {
    /// Whether libyaml ends a line at `scalar` (`\r\n` is one break: the `\r` ends the line and the
    /// `\n` after it belongs to the break).
    static func isLineBreak(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar {
        case "\n", "\r", "\u{85}", "\u{2028}", "\u{2029}": true
        default: false
        }
    }

    /// The index in `text.unicodeScalars` of the scalar at a 1-based line and column, or nil when
    /// there is no such position.
    static func scalarIndex(atLine line: Int, column: Int, in text: String) -> String.UnicodeScalarView.Index? {
        let scalars = text.unicodeScalars
        var currentLine = 1
        var currentColumn = 1
        var index = scalars.startIndex
        while index < scalars.endIndex {
            if currentLine == line, currentColumn == column { return index }
            if currentLine > line { return nil }
            let scalar = scalars[index]
            index = scalars.index(after: index)
            if isLineBreak(scalar) {
                if scalar == "\r", index < scalars.endIndex, scalars[index] == "\n" {
                    index = scalars.index(after: index)
                }
                currentLine += 1
                currentColumn = 1
            } else {
                currentColumn += 1
            }
        }
        return nil
    }

    /// The text of a 1-based line without its line break; empty when there is no such line.
    static func line(_ number: Int, of text: String) -> Substring {
        guard let start = scalarIndex(atLine: number, column: 1, in: text) else { return "" }
        let rest = text.unicodeScalars[start...]
        let end = rest.firstIndex(where: isLineBreak) ?? rest.endIndex
        return Substring(text.unicodeScalars[start..<end])
    }

    static func scalar(atLine line: Int, column: Int, in text: String) -> Unicode.Scalar? {
        scalarIndex(atLine: line, column: column, in: text).map { text.unicodeScalars[$0] }
    }

    /// The position just past the last character of `text`. At the end of a text that does not end
    /// with a line break, libyaml moves its position to the start of a line that does not exist;
    /// marks past this one are put here, so every position names a place in the text.
    static func end(of text: String, path: String) -> SourceMark {
        mark(ofCharacterOffset: text.count, in: text, path: path)
    }

    /// The position of the character `offset` characters into `text` (Yams reports reader
    /// errors as a character offset).
    static func mark(ofCharacterOffset offset: Int, in text: String, path: String) -> SourceMark {
        var line = 1
        var column = 1
        for character in text.prefix(offset) {
            // "\r\n" is one Character whose first scalar is "\r": one break, as libyaml counts it.
            if character.unicodeScalars.first.map(isLineBreak) == true {
                line += 1
                column = 1
            } else {
                column += character.unicodeScalars.count
            }
        }
        return SourceMark(path: path, line: line, column: column)
    }
}
