/// One server-sent event, as dispatched by `SSEParser` or built by a filter to send.
public struct SSEEvent: Sendable, Equatable {
    /// The `event:` field. nil means the default type, "message" (an empty `event:` field also
    /// parses to nil).
    public var event: String?
    /// The `data:` lines of the event joined with "\n" (no trailing newline).
    public var data: String
    /// The `id:` field of this event, if it had one. The parser does not carry ids from earlier
    /// events forward; `SSEParser.lastEventID` does that.
    public var id: String?
    /// The `retry:` field of this event (milliseconds), if it had a valid one.
    public var retry: Int?

    /// An event to send or compare; `data` may hold several lines (see `write(into:)`).
    public init(event: String? = nil, data: String, id: String? = nil, retry: Int? = nil) {
        self.event = event
        self.data = data
        self.id = id
        self.retry = retry
    }

    /// Appends the event in wire form: `event:`, `id:`, `retry:` (each when set), one `data:`
    /// line per line of `data`, then the blank line that dispatches it. Always ends in "\n\n".
    ///
    /// The wire form cannot carry line breaks inside a field, so: `data` is split at every CR,
    /// LF or CRLF (a receiver joins the lines back with "\n"); CR and LF are dropped from `event`
    /// and `id`; a negative `retry` is not written (receivers would ignore it).
    public func write(into buffer: inout [UInt8]) {
        if let event {
            buffer.append(contentsOf: "event: ".utf8)
            Self.appendSingleLine(event, to: &buffer)
        }
        if let id {
            buffer.append(contentsOf: "id: ".utf8)
            Self.appendSingleLine(id, to: &buffer)
        }
        if let retry, retry >= 0 {
            buffer.append(contentsOf: "retry: ".utf8)
            buffer.append(contentsOf: String(retry).utf8)
            buffer.append(0x0A)
        }
        buffer.append(contentsOf: "data: ".utf8)
        var previousWasCR = false
        for byte in data.utf8 {
            switch byte {
            case 0x0A where previousWasCR:
                previousWasCR = false
            case 0x0A, 0x0D:
                buffer.append(contentsOf: "\ndata: ".utf8)
                previousWasCR = byte == 0x0D
            default:
                buffer.append(byte)
                previousWasCR = false
            }
        }
        buffer.append(contentsOf: "\n\n".utf8)
    }

    /// The wire form of this event (see `write(into:)`).
    public var serialized: [UInt8] {
        var buffer: [UInt8] = []
        buffer.reserveCapacity(data.utf8.count + 16)
        write(into: &buffer)
        return buffer
    }

    private static func appendSingleLine(_ value: String, to buffer: inout [UInt8]) {
        for byte in value.utf8 where byte != 0x0A && byte != 0x0D {
            buffer.append(byte)
        }
        buffer.append(0x0A)
    }
}
