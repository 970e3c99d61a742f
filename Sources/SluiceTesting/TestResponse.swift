import SluiceFilterAPI
import SluiceHTTP

/// A response as `TestClient.readResponse` saw it.
public struct TestResponse: Sendable {
    /// The response head: status, reason, headers.
    public var head: HTTPResponseHead
    /// The whole decoded body received (chunk framing removed), from the first body byte.
    public var body: [UInt8]
    /// Every SSE item of the body when the response is `text/event-stream`, including the
    /// ones already handed out by `TestClient.readItem`; empty for other content types.
    public var events: [TimedSSEItem]
    /// Whether the body ended as its framing says, was cut, or was still open at the deadline.
    public var ending: ResponseEnding
    /// When the read that completed the head returned.
    public var headAt: ContinuousClock.Instant

    /// A response built from its parts (tests of test helpers).
    public init(
        head: HTTPResponseHead, body: [UInt8], events: [TimedSSEItem], ending: ResponseEnding,
        headAt: ContinuousClock.Instant
    ) {
        self.head = head
        self.body = body
        self.events = events
        self.ending = ending
        self.headAt = headAt
    }

    /// The body decoded as UTF-8 (invalid sequences become U+FFFD).
    public var bodyText: String { String(decoding: body, as: UTF8.self) }

    /// The status code of the head.
    public var status: Int { head.status }

    /// The SSE events of the body, without comments and times.
    public var sseEvents: [SSEEvent] { events.compactMap(\.event) }
}
