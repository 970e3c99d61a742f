import SluiceHTTP

/// A complete request as the mock server received it: the parsed head and the whole body.
///
/// The server builds one after reading the request's last body byte and hands it to
/// `MockPlanner.plan(_:settings:)`.
public struct MockRequest: Sendable {
    /// The request head.
    public var head: HTTPRequestHead
    /// The decoded body bytes (chunked framing already removed); empty when there was none.
    public var body: [UInt8]

    /// A request with its whole body.
    public init(head: HTTPRequestHead, body: [UInt8]) {
        self.head = head
        self.body = body
    }
}
