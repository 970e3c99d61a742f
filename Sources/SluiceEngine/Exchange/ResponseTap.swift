import SluiceFilterAPI
import SluiceHTTP

/// Reads one attempt's response body as it passes, for what Sluice knows about LLM streams: it parses
/// SSE events, classifies each one from its bytes, counts it and its tokens, and records the time to
/// the first token and the gaps between tokens; of a non-streamed JSON response it keeps a copy for
/// its `usage`. It never writes anything anywhere: what goes to the client is the exchange's business.
///
/// Owned by the exchange, made when the response head arrives and dropped with the attempt. An
/// object, so the parser is mutated in place while event hooks run (a hook that starts another
/// attempt replaces the exchange's tap, not this one). Loop thread only.
final class ResponseTap {
    /// The largest non-streamed JSON body read for its usage.
    static let usageBodyLimit = 1 << 20

    /// The response is an SSE stream (`text/event-stream`): its bytes go through `scan`, not `keep`.
    let readsEvents: Bool
    /// The stream's parser; nil unless `readsEvents`.
    @exclusivity(unchecked) private var parser: SSEParser?
    /// A 2xx JSON body, read for its `usage`.
    @exclusivity(unchecked) private var jsonBody = JSONBody.ignored
    /// `scan` is running: event hooks are being called.
    @exclusivity(unchecked) private var scanning = false
    /// Gaps between content events not yet added to the route's histogram, and that histogram.
    @exclusivity(unchecked) private var gaps = BatchedHistogram.Batch()
    private var gapHistogram: BatchedHistogram?

    deinit { addPendingGaps() }

    /// Adds the gaps counted since the last batch to the route's histogram: when the exchange ends,
    /// and when an attempt's tap is dropped for a retry.
    func addPendingGaps() { gapHistogram?.add(&gaps) }

    /// The tap for a response with this head.
    init(head: HTTPResponseHead) {
        let success = (200..<300).contains(head.status)
        // ASCII, as content types are: read in place, with no String made.
        let ascii: (events: Bool, json: Bool)? = head.headers.withFirstValue(of: .contentType) { value in
            guard let bytes = value else { return (false, false) }
            guard Self.isASCII(bytes) else { return nil }
            let events = Self.startsWithEventStream(bytes)
            return (events, !events && success && Self.mentionsJSON(bytes))
        }
        let json: Bool
        if let ascii {
            readsEvents = ascii.events
            json = ascii.json
        } else {
            var lowercased = (head.headers[.contentType] ?? "").lowercased()
            readsEvents = lowercased.hasPrefix("text/event-stream")
            json = !readsEvents && success && lowercased.withUTF8({ Self.mentionsJSON(UnsafeRawBufferPointer($0)) })
        }
        if json { jsonBody = .collecting([], whole: head.headers.integerValue(.contentLength)) }
        if readsEvents { parser = SSEParser() }
    }

    /// Whether `head` announces an event stream: its content type starts with `text/event-stream`,
    /// letters in any case. Read in place, with no `String` made.
    static func isEventStream(_ head: HTTPResponseHead) -> Bool {
        head.headers.withFirstValue(of: .contentType) { value in value.map(startsWithEventStream) ?? false }
    }

    /// The `bytes` start with "text/event-stream", ignoring the case of ASCII letters.
    private static func startsWithEventStream(_ bytes: UnsafeRawBufferPointer) -> Bool {
        let wanted: StaticString = "text/event-stream"
        guard bytes.count >= wanted.utf8CodeUnitCount else { return false }
        for k in 0..<wanted.utf8CodeUnitCount where folded(bytes[k]) != wanted.utf8Start[k] { return false }
        return true
    }

    /// `byte` with A–Z folded to a–z.
    @inline(__always)
    private static func folded(_ byte: UInt8) -> UInt8 { byte &- 0x41 < 26 ? byte | 0x20 : byte }

    /// "json" appears in `bytes`, ignoring ASCII case. On the bytes: `String.contains` resolves to
    /// Foundation's, and the standard library's generic search costs more still, a few thousand
    /// instructions for a short header value. Four bytes compared at each offset at once, the case
    /// bit forced on (exact for letters: only a letter's two cases become the lowercase one).
    private static func mentionsJSON(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard bytes.count >= 4 else { return false }
        let json = UInt32(littleEndian: 0x6E6F_736A)  // "json", as a load of its four bytes reads it
        for offset in 0...(bytes.count &- 4)
        where bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self) | 0x2020_2020 == json {
            return true
        }
        return false
    }

    /// Whether every byte of `bytes` is ASCII, eight at a time.
    private static func isASCII(_ bytes: UnsafeRawBufferPointer) -> Bool {
        var seen: UInt64 = 0
        var offset = 0
        while offset &+ 8 <= bytes.count {
            seen |= bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self)
            offset &+= 8
        }
        while offset < bytes.count {
            seen |= UInt64(bytes[offset])
            offset &+= 1
        }
        return seen & 0x8080_8080_8080_8080 == 0
    }

    /// Part of an event (or a line) was read and not yet dispatched: a client that was sent the
    /// bytes as they came is inside an event now. False while `scan` runs its hooks: the client has
    /// been sent none of the bytes being scanned yet.
    var hasPartialEvent: Bool {
        !scanning && parser?.hasPartialEvent == true
    }

    /// Body bytes of a response that is not an SSE stream, after the chunk hooks: `dialect` is the
    /// exchange's as it will stand when the body ends.
    func keep(_ bytes: UnsafeRawBufferPointer, dialect: StreamDialect) {
        guard case .collecting(var kept, let whole) = jsonBody else { return }
        if kept.isEmpty, bytes.count == whole, bytes.count <= Self.usageBodyLimit {
            // The whole body in one read, as a short answer usually comes: read where it lies.
            jsonBody = .read(LLMEventClassifier.usage(ofResponseBody: bytes.assumingMemoryBound(to: UInt8.self), dialect: dialect))
            return
        }
        guard kept.count + bytes.count <= Self.usageBodyLimit else {
            jsonBody = .ignored
            return
        }
        jsonBody = .ignored  // `kept` is the only reference while it grows: no copy.
        kept.append(contentsOf: bytes)
        jsonBody = .collecting(kept, whole: whole)
    }

    /// The usage of the whole non-streamed JSON body, when it had one (call once the body ended).
    func usage(dialect: StreamDialect) -> TokenUsage? {
        switch jsonBody {
        case .ignored: nil
        case .collecting(let kept, _): LLMEventClassifier.usage(ofResponseBody: kept, dialect: dialect)
        case .read(let usage): usage
        }
    }

    /// What the tap does with a non-streamed body.
    private enum JSONBody {
        /// Not read: not a 2xx JSON response, or larger than `usageBodyLimit`.
        case ignored
        /// Kept as it arrives, to be read when it ends; `whole` is its declared length, if any.
        case collecting([UInt8], whole: Int?)
        /// Read already, when the whole of it came in one read.
        case read(TokenUsage?)
    }

    /// Parses the SSE events in `bytes`. For each event, in order: classifies it in the exchange's
    /// dialect, counts it and records it in `exchange.tokens`, and for a content event the
    /// first-token and gap timings (in `exchange.timings` and `metrics`); then calls `onEvent` with
    /// the event's bytes and meaning. Once `onEvent` answers false, the rest of `bytes` is parsed but
    /// nothing more is counted or reported. Comments go to `onComment`. Throws what the parser
    /// throws (an event over its size limit). `onEvent` must not call `scan` again.
    func scan(_ bytes: UnsafeRawBufferPointer, exchange: Exchange, metrics: RouteMetrics,
              onComment: (UnsafeRawBufferPointer) -> Void,
              onEvent: (SSEEventView, LLMEventInfo) -> Bool) throws(SSEParseError) {
        guard parser != nil else { return }
        scanning = true
        defer { scanning = false }
        var goingOn = true
        // In place: the hooks `onEvent` runs read only `hasPartialEvent`, which does not look at
        // the parser while `scanning`.
        try parser!.scan(bytes) { item in
            guard goingOn else { return }
            switch item {
            case .comment(let text):
                onComment(text)
            case .event(let view):
                var moved: ContentEventTiming?
                let info = exchange.classifyAndRecord(view, moved: &moved)
                if let moved { record(moved, metrics) }
                goingOn = onEvent(view, info)
            }
        }
    }

    private func record(_ moved: ContentEventTiming, _ metrics: RouteMetrics) {
        if let ttft = moved.timeToFirstToken { metrics.timeToFirstToken.record(ttft) }
        if let afterHead = moved.afterResponseHead { metrics.firstContentEvent.record(afterHead) }
        if moved.gap != nil {
            // Set once: assigning it again took and dropped a reference per content event.
            if gapHistogram == nil { gapHistogram = metrics.tokenGap }
            if gaps.record(nanoseconds: moved.gapNanoseconds, bounds: metrics.tokenGap.bounds) { metrics.tokenGap.add(&gaps) }
        }
    }
}
