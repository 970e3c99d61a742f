/// The rule for names of listeners, upstream groups, routes, chains and filters. They appear
/// in logs, metrics labels and admin URLs, so they stay to characters that need no quoting.
enum NameSyntax {
    /// Why `name` is not a valid name, or nil when it is.
    static func problem(with name: String) -> String? {
        if name.isEmpty { return "a name must not be empty" }
        let valid = name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == ".") }
        return valid ? nil : "names may contain only letters, digits, '-', '_' and '.'; got '\(name)'"
    }
}
