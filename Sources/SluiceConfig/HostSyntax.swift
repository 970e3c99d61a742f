/// The host and port syntax shared by listen addresses and endpoint URLs.
enum HostSyntax {
    /// Splits `host`, `host:port`, `[ipv6]` or `[ipv6]:port`. The host comes back without
    /// brackets and may be empty (`:8080`), which callers decide about; a non-empty host must be
    /// a host name, an IPv4 address or (in brackets) an IPv6 address. A port must lie in `ports`.
    static func split(_ text: Substring, ports: ClosedRange<Int>) throws(SyntaxProblem) -> (host: String, port: Int?) {
        let host: Substring
        let portText: Substring?
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { throw SyntaxProblem("'[' without a closing ']'") }
            host = text[text.index(after: text.startIndex)..<close]
            guard isIPv6Address(host) else { throw SyntaxProblem("'\(host)' is not an IPv6 address") }
            let rest = text[text.index(after: close)...]
            if rest.isEmpty {
                portText = nil
            } else if rest.hasPrefix(":") {
                portText = rest.dropFirst()
            } else {
                throw SyntaxProblem("unexpected '\(rest)' after ']'")
            }
        } else {
            let colons = text.filter { $0 == ":" }.count
            if colons > 1 { throw SyntaxProblem("an IPv6 address needs brackets, e.g. [::1]:8080") }
            if let colon = text.firstIndex(of: ":") {
                host = text[..<colon]
                portText = text[text.index(after: colon)...]
            } else {
                host = text
                portText = nil
            }
            guard host.isEmpty || isHostName(host) else {
                throw SyntaxProblem("'\(host)' is not a valid host name or IP address")
            }
        }
        guard let portText else { return (String(host), nil) }
        guard !portText.isEmpty, portText.count <= 5, portText.allSatisfy({ $0.isASCII && $0.isNumber }),
              let port = Int(portText), ports.contains(port) else {
            throw SyntaxProblem("the port must be a number from \(ports.lowerBound) to \(ports.upperBound), got '\(portText)'")
        }
        return (String(host), port)
    }

    /// A DNS name (letters, digits, `-`, `_`, dot-separated labels) or a dotted-quad IPv4
    /// address.
    static func isHostName(_ text: Substring) -> Bool {
        guard !text.isEmpty, text.count <= 253 else { return false }
        let labels = text.split(separator: ".", omittingEmptySubsequences: false)
        if text.allSatisfy({ $0 == "." || ($0.isASCII && $0.isNumber) }) {
            // All digits: it must be an IPv4 address, not a name.
            return labels.count == 4 && labels.allSatisfy { !$0.isEmpty && $0.count <= 3 && Int($0)! <= 255 }
        }
        return labels.allSatisfy { label in
            !label.isEmpty && label.count <= 63
                && label.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }
        }
    }

    /// An IPv6 address in any of its textual forms (`::1`, `fe80::1%eth0`, `::ffff:10.0.0.1`),
    /// without brackets.
    static func isIPv6Address(_ text: Substring) -> Bool {
        var address = text
        if let percent = text.firstIndex(of: "%") {
            let zone = text[text.index(after: percent)...]
            guard !zone.isEmpty, zone.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "." || $0 == "_" || $0 == "-") }) else {
                return false
            }
            address = text[..<percent]
        }
        guard address.contains(":") else { return false }
        var groups = 8
        // A dotted IPv4 tail (`::ffff:10.0.0.1`) stands for the last two groups.
        if let lastColon = address.lastIndex(of: ":"), address[lastColon...].contains(".") {
            let tail = address[address.index(after: lastColon)...]
            guard tail.allSatisfy({ $0 == "." || ($0.isASCII && $0.isNumber) }), isHostName(tail) else { return false }
            address = address[...lastColon]
            if !address.hasSuffix("::") { address = address.dropLast() }
            groups = 6
        }
        let halves = address.split(separator: "::", maxSplits: 2, omittingEmptySubsequences: false)
        guard halves.count <= 2 else { return false }
        var written = 0
        for half in halves where !half.isEmpty {
            for group in half.split(separator: ":", omittingEmptySubsequences: false) {
                guard !group.isEmpty, group.count <= 4, group.allSatisfy(\.isHexDigit) else { return false }
                written += 1
            }
        }
        return halves.count == 2 ? written < groups : written == groups
    }
}
