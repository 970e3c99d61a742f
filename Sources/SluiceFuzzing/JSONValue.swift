/// A JSON value as the JSON fuzz target compares it: what `JSONByteReader` read, or what the
/// reference parser read, from the same bytes.
indirect enum JSONValue: Equatable {
    case object([Member])
    case array([JSONValue])
    /// The decoded text (nil when the reader could not decode it).
    case string(String?)
    /// The number as written, and its value when it is a whole number that fits in `Int`
    /// (a zero fraction is allowed, an exponent is not: `JSONByteReader.readInt()`'s contract).
    case number(text: String, integer: Int?)
    case bool(Bool)
    case null

    struct Member: Equatable {
        var key: String?
        var value: JSONValue
    }

    /// True for what `JSONByteReader.readHasContent()` calls content: a non-empty string, array or
    /// object, any number, `true`.
    var hasContent: Bool {
        switch self {
        case .object(let members): !members.isEmpty
        case .array(let elements): !elements.isEmpty
        case .string(let text): !(text ?? "").isEmpty
        case .number: true
        case .bool(let value): value
        case .null: false
        }
    }
}
