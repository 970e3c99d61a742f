/// What `SSEParser` reports, in stream order.
public enum SSEItem: Sendable, Equatable {
    /// A dispatched event (a blank line ended a block that had at least one `data:` field).
    case event(SSEEvent)
    /// A comment line (`:` first), with the text after the colon and one leading space
    /// removed. Servers send these as keep-alives; they are reported as soon as the line ends.
    case comment(String)
}
