/// A position in a config file.
///
/// `path` is the file's path exactly as it was given to the loader (not made absolute), so
/// messages name the file the way the user named it. `line` and `column` are 1-based; columns
/// count Unicode scalars, as libyaml does, so a tab or an emoji counts as one column.
public struct SourceMark: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var path: String
    public var line: Int
    public var column: Int

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
