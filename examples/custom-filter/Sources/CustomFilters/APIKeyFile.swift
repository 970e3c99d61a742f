import Foundation
import SluiceFilterAPI

/// The keys `api_key_auth` accepts and the client each one belongs to, read from a text file:
///
/// ```text
/// # KEY                      CLIENT
/// sk-alice-3f9c2b7e51d04a8e  alice
/// sk-bob-7d21e0c4a9b84f13    bob
/// ```
///
/// One key per line: the key, then whitespace, then the client's name. Blank lines and lines
/// starting with `#` are skipped. A key is any run of printable ASCII without spaces; a client
/// name is letters, digits, `.`, `_` and `-`. Several keys may belong to one client (key rotation);
/// one key may not appear twice.
///
/// Problems are reported as `PATH:LINE:COL: message`, and no message ever contains a key: the
/// file is full of secrets and the messages end up in logs and terminals.
public struct APIKeyFile: Sendable {
    /// Client name by key.
    public let clients: [String: String]

    /// What is wrong with a keys file: every problem found, in file order.
    public struct Problems: Error, Sendable {
        /// The problems, each at its line and column.
        public let errors: [ConfigError]
        init(_ errors: [ConfigError]) { self.errors = errors }
    }

    /// Reads and parses the file at `path`; on failure answers the problems instead.
    /// `shownPath` is how messages name the file (as the user wrote it, or resolved).
    public static func load(path: String, shownPath: String) -> Result<APIKeyFile, Problems> {
        guard let data = FileManager.default.contents(atPath: path) else {
            return .failure(Problems([ConfigError("cannot read the keys file", at: SourceMark(path: shownPath, line: 1, column: 1))]))
        }
        guard let text = String(data: data, encoding: .utf8) else {
            return .failure(Problems([ConfigError("the keys file is not UTF-8 text", at: SourceMark(path: shownPath, line: 1, column: 1))]))
        }
        return parse(text, path: shownPath)
    }

    /// Parses the file's text; `path` names the file in messages.
    public static func parse(_ text: String, path: String) -> Result<APIKeyFile, Problems> {
        var clients: [String: String] = [:]
        var firstLine: [String: Int] = [:]
        var errors: [ConfigError] = []
        // "\r\n" is one Character, so splitting on "\n" alone would not end a Windows line.
        let lines = text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline)
        for (offset, line) in lines.enumerated() {
            let lineNumber = offset + 1
            let fields = fieldsWithColumns(line)
            guard let first = fields.first, !first.text.hasPrefix("#") else { continue }
            func problem(_ message: String, column: Int) {
                errors.append(ConfigError(message, at: SourceMark(path: path, line: lineNumber, column: column)))
            }
            guard fields.count == 2 else {
                problem(fields.count == 1
                        ? "expected 'KEY CLIENT': the key has no client name after it"
                        : "expected 'KEY CLIENT', got \(fields.count) fields (a key or a client name cannot contain spaces)",
                        column: first.column)
                continue
            }
            let key = first.text
            let client = fields[1]
            if !key.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value < 0x7F }) {
                problem("a key must be printable ASCII without spaces", column: first.column)
                continue
            }
            if !client.text.unicodeScalars.allSatisfy(isClientNameScalar) {
                problem("client name '\(client.text)' may contain only letters, digits, '.', '_' and '-'", column: client.column)
                continue
            }
            if let earlier = firstLine[key] {
                problem("this key is already given at line \(earlier)", column: first.column)
                continue
            }
            firstLine[key] = lineNumber
            clients[key] = client.text
        }
        return errors.isEmpty ? .success(APIKeyFile(clients: clients)) : .failure(Problems(errors))
    }

    /// The whitespace-separated fields of a line, with their 1-based columns.
    private static func fieldsWithColumns(_ line: Substring) -> [(text: String, column: Int)] {
        var fields: [(text: String, column: Int)] = []
        var current = ""
        var start = 0
        for (i, scalar) in line.unicodeScalars.enumerated() {
            if scalar == " " || scalar == "\t" {
                if !current.isEmpty { fields.append((current, start + 1)); current = "" }
            } else {
                if current.isEmpty { start = i }
                current.unicodeScalars.append(scalar)
            }
        }
        if !current.isEmpty { fields.append((current, start + 1)) }
        return fields
    }

    private static func isClientNameScalar(_ s: Unicode.Scalar) -> Bool {
        switch s {
        case "a"..."z", "A"..."Z", "0"..."9", ".", "_", "-": true
        default: false
        }
    }
}
