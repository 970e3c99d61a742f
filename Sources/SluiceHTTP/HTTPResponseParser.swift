/// Reads responses from an upstream connection, one message at a time, as the bytes arrive.
///
/// Before each response, say what request it answers (`expectResponse(toMethod:)`). Then feed every byte received
/// to `parse`; it reports `.head`, `.body` runs and `.end`, and returns how much of the input it used. Interim 1xx
/// responses (other than 101) are read and skipped without events. When the upstream closes, call `finishAtEOF`:
/// that ends a close-delimited body and tells a clean close from a truncated response.
public struct HTTPResponseParser: Sendable {
    private let limits: HTTPLimits
    @usableFromInline var phase = MessagePhase.head
    private var accumulator = HeadAccumulator()
    private var body: BodyDecoder
    private var failure: HTTPParseError?
    private var requestWasHEAD = false
    /// True once an interim 1xx response has been skipped for the current exchange.
    private var skippedInterim = false
    /// How the current response's body is framed; valid after `.head` (`.none` before).
    public private(set) var framing = BodyFraming.none

    public init(limits: HTTPLimits = .responseDefaults) {
        self.limits = limits
        self.body = BodyDecoder(framing: .none, limits: limits)
    }

    /// Tells the parser what request this response answers: a response to HEAD has no body whatever its head says.
    /// Call before parsing each response; `reset()` forgets it (so call it after `reset()`).
    public mutating func expectResponse(toMethod method: String) {
        requestWasHEAD = method == "HEAD"
    }

    /// Parses as much of `input` as belongs to the current response and stops right after its end. Returns the
    /// number of bytes consumed; bytes of an incomplete head are buffered internally (and count as consumed).
    /// Events are delivered synchronously. Once the response is complete, further calls return 0 until `reset()`.
    /// Throws on the first violation (a 101 response is one: upgrades are not supported); after a throw the parser
    /// is unusable and the upstream connection must be closed.
    public mutating func parse(
        _ input: UnsafeRawBufferPointer, _ onEvent: (HTTPParseEvent<HTTPResponseHead>) -> Void
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

    /// The peer closed the connection. Returns `.completed` when the response is whole (a close-delimited body ends
    /// here, and `.end` is emitted for it), `.idle` when no byte of a response had been seen, and `.truncated` when
    /// the head or a length-delimited or chunked body was cut off (or the parser had failed).
    public mutating func finishAtEOF(_ onEvent: (HTTPParseEvent<HTTPResponseHead>) -> Void) -> EOFOutcome {
        switch phase {
        case .complete:
            return .completed
        case .failed:
            return .truncated
        case .head:
            return accumulator.hasStarted || skippedInterim ? .truncated : .idle
        case .body:
            guard body.isCloseDelimited else { return .truncated }
            phase = .complete
            onEvent(.end)
            return .completed
        }
    }

    /// After `.end`: forgets the finished response (and the request method) so the next one can be parsed.
    public mutating func reset() {
        phase = .head
        accumulator.reset()
        body = BodyDecoder(framing: .none, limits: limits)
        failure = nil
        requestWasHEAD = false
        skippedInterim = false
        framing = .none
    }

    /// True when no byte of a response has been seen since the last reset.
    public var isIdle: Bool { phase == .head && !accumulator.hasStarted && !skippedInterim }

    /// True once `.end` has been emitted for the current response.
    // Inlinable: a caller holding the parser in a class reads one field, where a call copied the
    // whole parser to pass it.
    @inlinable public var isComplete: Bool { phase == .complete }

    private mutating func parseMessage(
        _ input: UnsafeRawBufferPointer, _ onEvent: (HTTPParseEvent<HTTPResponseHead>) -> Void
    ) throws(HTTPParseError) -> Int {
        var offset = 0
        while phase == .head {
            let progress = try accumulator.scan(input, from: offset, limits: limits, startLineTooLong: .headersTooLarge)
            guard case .complete(let headStart, let headEnd) = progress else { return input.count }
            let fieldCount = accumulator.fieldCount
            let parsed = try accumulator.withCompleteHead(input, headStart: headStart, headEnd: headEnd) {
                (head) throws(HTTPParseError) in
                try ResponseHeadParser.parse(head, fieldCount: fieldCount)
            }
            accumulator.reset()
            offset = headEnd
            let status = parsed.head.status
            if status == 101 { throw HTTPParseError(.notImplemented, "101 Switching Protocols is not supported") }
            let framing = try FramingRules.responseFraming(
                parsed.fields, version: parsed.head.version, status: status, requestWasHEAD: requestWasHEAD,
                limits: limits)
            if status < 200 {
                // Interim responses (100 Continue, 103 Early Hints) are not forwarded; the final one follows.
                skippedInterim = true
                continue
            }
            self.framing = framing
            body = BodyDecoder(framing: framing, limits: limits)
            phase = .body
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
