/// What `SSEParser.scan` reports: an item as views of the parser's own bytes, so a caller that only
/// reads events (classifies them, counts them) builds no `String` per event.
///
/// The views are valid only during the callback that receives them; copy what must outlive it
/// (`SSEEventView.makeEvent()`, `String(decoding:as:)`).
public enum SSEItemView {
    /// A dispatched event (a blank line ended a block that had at least one `data:` field).
    case event(SSEEventView)
    /// A comment line's text after the colon and one leading space, as raw bytes.
    case comment(UnsafeRawBufferPointer)
}

/// One dispatched event as views of the parser's bytes. Valid only during the callback.
public struct SSEEventView {
    /// The `data:` lines joined with LF (no trailing newline), as raw bytes (not checked for UTF-8).
    public let data: UnsafeRawBufferPointer
    /// The `event:` field's raw bytes; nil when the block had none (or an empty one): type "message".
    public let name: UnsafeRawBufferPointer?
    /// The `id:` field of this event, if it had one.
    public let id: String?
    /// The `retry:` field of this event (milliseconds), if it had a valid one.
    public let retry: Int?

    /// The event as a value that outlives the callback; invalid UTF-8 becomes U+FFFD.
    public func makeEvent() -> SSEEvent {
        SSEEvent(event: name.map { String(decoding: $0, as: UTF8.self) }, data: String(decoding: data, as: UTF8.self),
                 id: id, retry: retry)
    }
}
