#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An incremental parser for `text/event-stream`, following the WHATWG event-stream
/// interpretation rules.
///
/// Feed it bytes as they come off the network, in chunks of any size; it reports each comment
/// when its line ends and each event at the blank line that ends it. Splitting the same bytes
/// differently never changes what is reported. It holds only the bytes of the event in progress.
///
/// A value type with no shared state: use one per stream, on the thread that owns the stream.
public struct SSEParser: Sendable {
    /// The largest event accepted, counting the bytes of its field lines (`data:`, `event:`,
    /// `id:`, `retry:` and unknown fields, without line ends). A comment line is bounded alone
    /// by the same limit but does not count toward the event around it, so keep-alive comments
    /// never add up.
    public let maxEventBytes: Int

    /// The `id:` most recently seen on the stream, carried across events as the spec's "last
    /// event ID" (what a client would send as `Last-Event-ID` when reconnecting). Set even by a
    /// block that is never dispatched.
    public private(set) var lastEventID: String?

    /// The most recent valid `retry:` value (milliseconds), also set by blocks never dispatched.
    public private(set) var reconnectionTime: Int?

    private var line: [UInt8] = []
    private var data: [UInt8] = []
    private var hasData = false
    /// The `event:` value of the block in progress, as bytes; `hasEventType` tells an absent (or
    /// empty) field from a set one.
    private var eventType: [UInt8] = []
    private var hasEventType = false
    private var eventID: String?
    private var eventRetry: Int?
    private var fieldBytes = 0
    private var sawField = false
    private var skipLeadingLF = false
    private var bomMatched = 0
    private var bomDone = false
    private var failure: SSEParseError?

    /// A parser at the start of a stream. An event (or line) longer than `maxEventBytes` makes
    /// `feed` throw, so a hostile upstream cannot make the proxy buffer without bound.
    public init(maxEventBytes: Int = 1 << 20) {
        self.maxEventBytes = maxEventBytes
    }

    /// True when bytes of an item not yet reported are pending: a field of an event whose
    /// blank line has not come, or an unfinished line. Check it when the stream ends: true means
    /// the stream was cut mid-event (the spec discards such an event, and so does the parser).
    public var hasPartialEvent: Bool {
        sawField || !line.isEmpty || (bomMatched > 0 && !bomDone)
    }

    /// Feeds bytes as they arrive from the network; calls `onItem` for each complete item, in
    /// order, before returning. Events split across any number of feeds are reassembled. Lines
    /// end in CRLF, LF or CR (a CR at the end of one feed followed by LF at the start of the next
    /// is one line end). A leading UTF-8 BOM is ignored. An event is dispatched at a blank line;
    /// an event with no data field is not dispatched (per the SSE spec), though its `id:` and
    /// `retry:` still update `lastEventID` and `reconnectionTime`. Comments are reported as they
    /// are read. Invalid UTF-8 is replaced with U+FFFD.
    ///
    /// `onItem` runs synchronously and must not use this parser.
    ///
    /// Throws when one event (or one comment line) exceeds `maxEventBytes`. Items completed
    /// before the oversized one have been reported. The parser then stays failed: every later
    /// call throws the same error, since the rest of the stream can no longer be framed.
    public mutating func feed(_ bytes: UnsafeRawBufferPointer, _ onItem: (SSEItem) -> Void) throws(SSEParseError) {
        try scan(bytes) { view in
            switch view {
            case .event(let event): onItem(.event(event.makeEvent()))
            case .comment(let text): onItem(.comment(String(decoding: text, as: UTF8.self)))
            }
        }
    }

    /// `feed`, reporting each item as views of the parser's bytes (`SSEItemView`) instead of values:
    /// no `String` is built for an event unless the callback asks for one. Same framing, same limits,
    /// same errors as `feed`. The views are valid only during `onItem`, which must not use this parser.
    public mutating func scan(_ bytes: UnsafeRawBufferPointer, _ onItem: (SSEItemView) -> Void) throws(SSEParseError) {
        if let failure { throw failure }
        let count = bytes.count
        var i = 0
        if !bomDone {
            i = consumeBOM(bytes)
            if !bomDone { return }
        }
        if skipLeadingLF, i < count {
            skipLeadingLF = false
            if bytes[i] == SSEByte.lf { i += 1 }
        }
        while i < count {
            var end = Self.lineEnd(in: bytes, from: i)
            if end == count {
                line.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[i..<count]))
                try checkSize(lineLength: line.count, isComment: line[0] == SSEByte.colon)
                return
            }
            if line.isEmpty {
                if let next = try dispatchInPlace(bytes, lineStart: i, lineEnd: end, onItem) {
                    i = next
                    continue
                }
                try processLine(UnsafeRawBufferPointer(rebasing: bytes[i..<end]), onItem)
            } else {
                line.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[i..<end]))
                // Swapped out so processing it does not overlap an access to `self.line`.
                var complete: [UInt8] = []
                swap(&complete, &line)
                defer {
                    Self.empty(&complete)
                    swap(&complete, &line)
                }
                var caught: SSEParseError?
                complete.withUnsafeBytes { lineBytes in
                    do throws(SSEParseError) { try processLine(lineBytes, onItem) } catch { caught = error }
                }
                if let caught { throw caught }
            }
            if bytes[end] == SSEByte.cr {
                if end + 1 < count {
                    if bytes[end + 1] == SSEByte.lf { end += 1 }
                } else {
                    // Dispatch now rather than wait to see whether an LF follows: an event must
                    // not sit in the proxy until the next chunk arrives.
                    skipLeadingLF = true
                }
            }
            i = end + 1
        }
    }

    /// Feeds bytes and answers the items they completed (a convenience over the callback form).
    public mutating func feed(_ bytes: [UInt8]) throws(SSEParseError) -> [SSEItem] {
        var items: [SSEItem] = []
        var caught: SSEParseError?
        bytes.withUnsafeBytes { raw in
            do throws(SSEParseError) { try feed(raw) { items.append($0) } } catch { caught = error }
        }
        if let caught { throw caught }
        return items
    }

    /// Drops any partial event and line, as if the stream started over (the `lastEventID` and
    /// `reconnectionTime` survive, as they do across an EventSource reconnect). Clears a failure.
    public mutating func reset() {
        Self.empty(&line)
        clearEvent()
        skipLeadingLF = false
        bomMatched = 0
        bomDone = false
        failure = nil
    }

    // MARK: - Lines

    private mutating func processLine(_ line: UnsafeRawBufferPointer, _ onItem: (SSEItemView) -> Void) throws(SSEParseError) {
        guard let first = line.first else {
            dispatch(onItem)
            return
        }
        if first == SSEByte.colon {
            try checkSize(lineLength: line.count, isComment: true)
            onItem(.comment(Self.value(line, from: 1)))
            return
        }
        try checkSize(lineLength: line.count, isComment: false)
        fieldBytes += line.count
        sawField = true
        let colon = line.firstIndex(of: SSEByte.colon) ?? line.count
        let name = UnsafeRawBufferPointer(rebasing: line[0..<colon])
        let value = Self.value(line, from: colon + 1)
        if Self.equals(name, "data") {
            if hasData { data.append(SSEByte.lf) }
            data.append(contentsOf: value)
            hasData = true
        } else if Self.equals(name, "event") {
            eventType.removeAll(keepingCapacity: true)
            eventType.append(contentsOf: value)
            hasEventType = !value.isEmpty
        } else if Self.equals(name, "id") {
            // The spec ignores an id containing NUL: it could not be sent back in a header.
            if !value.contains(0) {
                let id = String(decoding: value, as: UTF8.self)
                eventID = id
                lastEventID = id
            }
        } else if Self.equals(name, "retry") {
            if let ms = Self.parseRetry(value) {
                eventRetry = ms
                reconnectionTime = ms
            }
        }
    }

    /// The usual event, one `data` line and the blank line after it, both whole in `bytes` (LF LF or
    /// CRLF CRLF): reported as a view of `bytes` itself, the data not copied into `data` first.
    /// Answers where the next line starts, or nil, having done nothing, for any other shape; what is
    /// reported, checked and remembered is what `processLine` would have made of the two lines.
    private mutating func dispatchInPlace(_ bytes: UnsafeRawBufferPointer, lineStart: Int, lineEnd: Int,
                                          _ onItem: (SSEItemView) -> Void) throws(SSEParseError) -> Int? {
        guard !hasData else { return nil }
        let count = bytes.count
        let next: Int
        if bytes[lineEnd] == SSEByte.lf {
            guard lineEnd + 1 < count, bytes[lineEnd + 1] == SSEByte.lf else { return nil }
            next = lineEnd + 2
        } else {
            guard lineEnd + 3 < count, bytes[lineEnd + 1] == SSEByte.lf, bytes[lineEnd + 2] == SSEByte.cr,
                  bytes[lineEnd + 3] == SSEByte.lf else { return nil }
            next = lineEnd + 4
        }
        let line = UnsafeRawBufferPointer(rebasing: bytes[lineStart..<lineEnd])
        // The field's name is "data": the line is "data" alone or starts "data:".
        guard line.count >= 4, Self.equals(UnsafeRawBufferPointer(rebasing: line[0..<4]), "data"),
              line.count == 4 || line[4] == SSEByte.colon else { return nil }
        try checkSize(lineLength: line.count, isComment: false)
        let value = Self.value(line, from: 5)
        let (id, retry, named) = (eventID, eventRetry, hasEventType)
        eventType.withUnsafeBytes { name in
            onItem(.event(SSEEventView(data: value, name: named ? name : nil, id: id, retry: retry)))
        }
        clearEvent()
        return next
    }

    private mutating func dispatch(_ onItem: (SSEItemView) -> Void) {
        defer { clearEvent() }
        guard hasData else { return }
        let (id, retry, named) = (eventID, eventRetry, hasEventType)
        data.withUnsafeBytes { data in
            eventType.withUnsafeBytes { name in
                onItem(.event(SSEEventView(data: data, name: named ? name : nil, id: id, retry: retry)))
            }
        }
    }

    private mutating func clearEvent() {
        // Tested first: emptying an empty array still costs a generic `replaceSubrange`, per event.
        if !data.isEmpty { Self.empty(&data) }
        hasData = false
        if !eventType.isEmpty { eventType.removeAll(keepingCapacity: true) }
        hasEventType = false
        eventID = nil
        eventRetry = nil
        fieldBytes = 0
        sawField = false
    }

    /// Empties a buffer, keeping its storage for the next event unless one unusually large
    /// event grew it: a long-lived stream should not hold its largest event's worth of memory.
    private static func empty(_ buffer: inout [UInt8]) {
        if buffer.capacity > 64 * 1024 {
            buffer = []
        } else {
            buffer.removeAll(keepingCapacity: true)
        }
    }

    private mutating func checkSize(lineLength: Int, isComment: Bool) throws(SSEParseError) {
        let total = isComment ? lineLength : fieldBytes + lineLength
        guard total > maxEventBytes else { return }
        let error = SSEParseError(message: isComment
            ? "SSE comment line longer than \(maxEventBytes) bytes"
            : "SSE event larger than \(maxEventBytes) bytes")
        failure = error
        line.removeAll()
        clearEvent()
        throw error
    }

    /// Consumes as much of a leading BOM as `bytes` holds; answers where the stream proper
    /// starts. A partial match that turns out not to be a BOM is replayed as line content.
    private mutating func consumeBOM(_ bytes: UnsafeRawBufferPointer) -> Int {
        let bom: (UInt8, UInt8, UInt8) = (0xEF, 0xBB, 0xBF)
        var i = 0
        while i < bytes.count && !bomDone {
            let expected = bomMatched == 0 ? bom.0 : bomMatched == 1 ? bom.1 : bom.2
            if bytes[i] == expected {
                bomMatched += 1
                i += 1
                bomDone = bomMatched == 3
            } else {
                if bomMatched >= 1 { line.append(bom.0) }
                if bomMatched >= 2 { line.append(bom.1) }
                bomDone = true
            }
        }
        return i
    }

    /// The offset of the first CR or LF at or after `start`, or `bytes.count`. The C library's
    /// `memchr` finds the LF (lines of LLM streams are long JSON documents, and it looks at a
    /// vector of bytes at a time), then the CR before it, which is rare: about a third of the
    /// instructions of a word-at-a-time scan for both.
    @inline(__always)
    private static func lineEnd(in bytes: UnsafeRawBufferPointer, from start: Int) -> Int {
        let count = bytes.count
        guard let base = bytes.baseAddress, start < count else { return count }
        let from = base + start
        var limit = count &- start
        if let lf = memchr(from, Int32(SSEByte.lf), limit) { limit = UnsafeRawPointer(lf) - from }
        if limit > 0, let cr = memchr(from, Int32(SSEByte.cr), limit) { return start &+ (UnsafeRawPointer(cr) - from) }
        return start &+ limit
    }

    // MARK: - Field helpers

    /// The field value after `start`, without the one optional leading space.
    private static func value(_ line: UnsafeRawBufferPointer, from start: Int) -> UnsafeRawBufferPointer {
        var start = min(start, line.count)
        if start < line.count, line[start] == SSEByte.space { start += 1 }
        return UnsafeRawBufferPointer(rebasing: line[start...])
    }

    private static func equals(_ bytes: UnsafeRawBufferPointer, _ literal: StaticString) -> Bool {
        let n = literal.utf8CodeUnitCount
        guard bytes.count == n else { return false }
        let p = literal.utf8Start
        for k in 0..<n where bytes[k] != p[k] { return false }
        return true
    }

    /// The spec accepts only ASCII digits; anything else leaves the reconnection time alone.
    private static func parseRetry(_ value: UnsafeRawBufferPointer) -> Int? {
        guard !value.isEmpty else { return nil }
        var ms = 0
        for b in value {
            guard b >= 0x30, b <= 0x39 else { return nil }
            let (m, o1) = ms.multipliedReportingOverflow(by: 10)
            let (s, o2) = m.addingReportingOverflow(Int(b - 0x30))
            if o1 || o2 { return nil }
            ms = s
        }
        return ms
    }
}

private enum SSEByte {
    static let lf: UInt8 = 0x0A
    static let cr: UInt8 = 0x0D
    static let space: UInt8 = 0x20
    static let colon: UInt8 = 0x3A
}
