/// A shared script's reply as the server sent it, for scripts that answer more than integers
/// (`SharedStore.evaluate`): bytes (a Lua string), integers, nested arrays, and nil (a Lua `false`
/// or a missing value). An error reply never gets here: it is a `SharedStoreFailure.badAnswer`.
/// A value; any thread.
public enum SharedReply: Sendable, Equatable {
    case integer(Int64)
    /// A string: binary-safe bytes (a status reply's text too).
    case bytes([UInt8])
    case array([SharedReply])
    case null

    /// The integer, also of bytes holding only a decimal integer.
    public var integer: Int64? {
        switch self {
        case .integer(let n): return n
        case .bytes(let bytes): return Int64(String(decoding: bytes, as: UTF8.self))
        default: return nil
        }
    }

    /// The bytes of a string.
    public var bytes: [UInt8]? {
        if case .bytes(let bytes) = self { return bytes }
        return nil
    }

    /// The bytes of a string read as UTF-8.
    public var text: String? { bytes.map { String(decoding: $0, as: UTF8.self) } }

    /// The items of an array.
    public var array: [SharedReply]? {
        if case .array(let items) = self { return items }
        return nil
    }
}
