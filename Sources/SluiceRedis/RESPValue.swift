/// One RESP2 value as a Redis server sends it.
///
/// Pure data: no I/O. `RESPParser` makes these from bytes; `RESPCommand` writes the other way.
public enum RESPValue: Sendable, Equatable {
    /// `+OK`: a status line (never holds CR or LF).
    case simple(String)
    /// `-ERR …`: an error reply; the first word is its code (`NOSCRIPT`, `NOAUTH`, `WRONGPASS`).
    case error(String)
    /// `:42`.
    case integer(Int64)
    /// `$3 abc`: binary-safe bytes.
    case bulk([UInt8])
    /// `*2 …`: nested values.
    case array([RESPValue])
    /// `$-1` or `*-1`: no value.
    case null

    /// The integer of an `.integer`, or of a bulk or simple string holding only a decimal integer.
    public var integerValue: Int64? {
        switch self {
        case .integer(let n): return n
        case .bulk(let bytes): return RESPParser.decimal(bytes[...])
        case .simple(let text): return RESPParser.decimal(Array(text.utf8)[...])
        default: return nil
        }
    }

    /// The text of a simple string or a bulk string (bulk bytes read as UTF-8).
    public var text: String? {
        switch self {
        case .simple(let text): return text
        case .bulk(let bytes): return String(decoding: bytes, as: UTF8.self)
        default: return nil
        }
    }

    /// The message of an error reply, or nil.
    public var errorMessage: String? {
        if case .error(let message) = self { return message }
        return nil
    }
}
