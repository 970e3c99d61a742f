/// Why bytes from a Redis server are not valid RESP2. Any of these ends the connection: after a
/// framing error nothing that follows can be trusted to line up with the commands sent.
public enum RESPParseError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The first byte of a value is not one of `+ - : $ *`.
    case unknownType(UInt8)
    /// A line did not end in CR LF, or held a bare CR or LF.
    case badLineEnding
    /// A length or an integer is not a plain decimal (`-` allowed, no `+`, no spaces, no leading zeros).
    case badInteger
    /// A bulk string's bytes were not followed by CR LF.
    case badBulkTerminator
    /// A length below -1.
    case negativeLength
    /// A bulk string longer than the parser's limit.
    case bulkTooLong(Int64)
    /// An array with more elements than the parser's limit.
    case arrayTooLong(Int64)
    /// Arrays nested deeper than the parser's limit.
    case tooDeep
    /// A status or integer line longer than the parser's limit.
    case lineTooLong

    public var description: String {
        switch self {
        case .unknownType(let byte): return "unknown RESP type byte 0x\(String(byte, radix: 16))"
        case .badLineEnding: return "a RESP line does not end in CRLF"
        case .badInteger: return "a RESP integer or length is not a plain decimal"
        case .badBulkTerminator: return "a RESP bulk string is not followed by CRLF"
        case .negativeLength: return "a RESP length below -1"
        case .bulkTooLong(let n): return "a RESP bulk string of \(n) bytes is over the limit"
        case .arrayTooLong(let n): return "a RESP array of \(n) elements is over the limit"
        case .tooDeep: return "RESP arrays nested too deep"
        case .lineTooLong: return "a RESP line is over the limit"
        }
    }
}
