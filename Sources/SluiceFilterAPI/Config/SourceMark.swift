/// A position in a config file.
///
/// `path` is the file's path exactly as it was given to the loader (not made absolute), so
/// messages name the file the way the user named it. `line` and `column` are 1-based; columns
/// count Unicode scalars, as libyaml does, so a tab or an emoji counts as one column.
public struct SourceMark: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The file, as the user named it.
    public var path: String
    /// The line, from 1.
    public var line: Int
    /// The column, from 1, in Unicode scalars.
    public var column: Int

    /// A position; `line` and `column` count from 1.
    public init(path: String, line: Int, column: Int) {
        self.path = path
        self.line = line
        self.column = column
    }

    /// `path:line:col`, the prefix editors and terminals turn into a link.
    public var description: String { "\(path):\(line):\(column)" }

    /// Orders by path, then line, then column: the order a reader meets the positions in.
    public static func < (lhs: SourceMark, rhs: SourceMark) -> Bool {
        (lhs.path, lhs.line, lhs.column) < (rhs.path, rhs.line, rhs.column)
    }
}
