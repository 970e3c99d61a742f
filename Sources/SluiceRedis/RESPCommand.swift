/// A command as RESP2 sends it: an array of bulk strings. Pure.
public struct RESPCommand: Sendable, Equatable {
    /// The command name and its arguments, as bytes.
    public var parts: [[UInt8]]

    public init(_ parts: [[UInt8]]) { self.parts = parts }

    /// `RESPCommand("SET", "k", "v")`.
    public init(_ parts: String...) { self.parts = parts.map { Array($0.utf8) } }

    /// `RESPCommand(["EVALSHA", sha, "1", key])`.
    public init(strings: [String]) { self.parts = strings.map { Array($0.utf8) } }

    /// The command's name, upper-cased, for logs and metrics (never its arguments: they may hold a password).
    public var name: String { parts.first.map { String(decoding: $0, as: UTF8.self).uppercased() } ?? "" }

    /// The wire form: `*N\r\n` then `$len\r\nbytes\r\n` per part.
    public func encoded() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(16 + parts.reduce(0) { $0 + $1.count + 16 })
        out.append(UInt8(ascii: "*"))
        out.append(contentsOf: String(parts.count).utf8)
        out.append(contentsOf: [13, 10])
        for part in parts {
            out.append(UInt8(ascii: "$"))
            out.append(contentsOf: String(part.count).utf8)
            out.append(contentsOf: [13, 10])
            out.append(contentsOf: part)
            out.append(contentsOf: [13, 10])
        }
        return out
    }
}
