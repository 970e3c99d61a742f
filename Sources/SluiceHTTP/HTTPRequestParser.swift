/// Reads requests from a client connection, one message at a time, as the bytes arrive.
///
/// Feed every byte received to `parse`; it reports `.head`, then `.body` runs, then `.end`, and returns how much of
/// the input it used. After `.end`, `reset()` and feed the unconsumed rest (pipelined requests). Any violation of
/// the strict HTTP/1.1 rules throws an `HTTPParseError`, after which the connection must be answered with its
/// `status` and closed.
public struct HTTPRequestParser: Sendable {
    private let limits: HTTPLimits
    @usableFromInline var phase = MessagePhase.head
    private var accumulator = HeadAccumulator()
    private var body: BodyDecoder
    private var failure: HTTPParseError?
    /// How the current message's body is framed; valid after `.head` (`.none` before).
    public private(set) var framing = BodyFraming.none

    public init(limits: HTTPLimits = HTTPLimits()) {
        self.limits = limits
        self.body = BodyDecoder(framing: .none, limits: limits)
    }

    /// Parses as much of `input` as belongs to the current message and stops right after its end, so pipelined
    /// requests stay unread in the caller's buffer. Returns the number of bytes consumed. Bytes of an incomplete head
    /// are buffered internally (and count as consumed). Events are delivered synchronously, before this returns.
    /// Once the message is complete, further calls consume nothing and return 0 until `reset()`.
    /// Throws on the first violation; after a throw the parser is unusable (every later call throws the same error):
    /// the connection must be answered with `error.status` and closed.
    public mutating func parse(
        _ input: UnsafeRawBufferPointer, _ onEvent: (HTTPParseEvent<HTTPRequestHead>) -> Void
    ) throws(HTTPParseError) -> Int {
        if let failure { throw failure }
        do {
            return try parseMessage(input, onEvent)
        } catch {
            phase = .failed
            failure = error
            throw error
        }
    }

    /// After `.end`: forgets the finished message so the next one on the same connection can be parsed.
    /// Also clears a failure, though a connection that produced one should be closed instead.
    public mutating func reset() {
        phase = .head
        accumulator.reset()
        body = BodyDecoder(framing: .none, limits: limits)
        failure = nil
        framing = .none
    }

    /// True when no byte of a message has been seen since the last reset (empty lines before a request do not
    /// count): closing the connection now loses nothing.
    public var isIdle: Bool { phase == .head && !accumulator.hasStarted }

    /// True once `.end` has been emitted for the current message.
    // Inlinable: a caller holding the parser in a class reads one field, where a call copied the
    // whole parser to pass it.
    @inlinable public var isComplete: Bool { phase == .complete }

    private mutating func parseMessage(
        _ input: UnsafeRawBufferPointer, _ onEvent: (HTTPParseEvent<HTTPRequestHead>) -> Void
    ) throws(HTTPParseError) -> Int {
        var offset = 0
        if phase == .head {
            let progress = try accumulator.scan(input, from: 0, limits: limits, startLineTooLong: .uriTooLong)
            guard case .complete(let headStart, let headEnd) = progress else { return input.count }
            let fieldCount = accumulator.fieldCount
            let limits = limits
            let parsed = try accumulator.withCompleteHead(input, headStart: headStart, headEnd: headEnd) {
                (head) throws(HTTPParseError) in
                try RequestHeadParser.parse(head, fieldCount: fieldCount, limits: limits)
            }
            accumulator.reset()
            framing = parsed.framing
            body = BodyDecoder(framing: parsed.framing, limits: limits)
            phase = .body
            offset = headEnd
            onEvent(.head(parsed.head))
        }
        if phase == .body {
            if !body.isDone {
                offset = try body.decode(input, from: offset) { onEvent(.body($0)) }
            }
            if body.isDone {
                phase = .complete
                onEvent(.end)
            }
        }
        return offset
    }
}
