/// What a parser reports while reading one message, in order: one `.head`, any number of `.body`, one `.end`.
public enum HTTPParseEvent<Head> {
    /// The message head is complete and valid; its framing is now known.
    case head(Head)
    /// Body payload (chunk framing already removed). The buffer is only valid during the callback; it points into
    /// the caller's input, so copy what must outlive it.
    case body(UnsafeRawBufferPointer)
    /// The message is complete; the parser consumes nothing more until `reset()`.
    case end
}
