/// What a content event moved in the exchange's timings; the engine turns it into metrics.
package struct ContentEventTiming {
    /// Set for the first content event: from the exchange's start to it.
    package var timeToFirstToken: Duration?
    /// Set for the first content event: from the response head to it.
    package var afterResponseHead: Duration?
    /// Set from the second content event on: the gap since the previous one.
    package var gap: Duration?
    /// `gap` in nanoseconds (0 when it is nil), for metrics that would otherwise take it apart again.
    package var gapNanoseconds: Int64 = 0
}

// The engine's per-event records, made here, inside the module that declares the members, where
// their accesses need no run-time exclusivity check (from the engine's module each one has one).
extension Exchange {
    /// One read of response body from the upstream. Loop thread.
    package func countResponseRead(bytes: Int) {
        counters.bytesFromUpstream += bytes
        counters.chunks += 1
    }

    /// The client has been written `bytes` response bytes in all, head included. Loop thread.
    package func setBytesToClient(_ bytes: Int) {
        counters.bytesToClient = bytes
    }

    /// `clientHighWatermark`, read here: the engine reads it per forwarded event.
    package var currentHighWatermark: Int { clientHighWatermark }

    /// Classifies one event of the response stream in the exchange's `dialect` (through
    /// `eventShape`: an event shaped like the one before costs a comparison, not a read), records it
    /// (`recordEvent`, whose answer goes to `moved`) and answers the classification: the dialect is
    /// read here, per event. Loop thread.
    package func classifyAndRecord(_ event: SSEEventView, moved: inout ContentEventTiming?) -> LLMEventInfo {
        let data = UnsafeBufferPointer(start: event.data.baseAddress?.assumingMemoryBound(to: UInt8.self), count: event.data.count)
        let name = event.name.map { UnsafeBufferPointer(start: $0.baseAddress?.assumingMemoryBound(to: UInt8.self), count: $0.count) }
        let info = LLMEventClassifier.classify(data: data, name: name, dialect: dialect, shape: &eventShape)
        moved = recordEvent(info)
        return info
    }

    /// One classified event of the response stream: counted, recorded in `tokens`, and for a
    /// content event the first-token, last-token and longest-gap timings. Answers what a content
    /// event moved (nil for other kinds). Loop thread.
    package func recordEvent(_ info: LLMEventInfo) -> ContentEventTiming? {
        counters.events += 1
        tokens.record(info)
        guard info.kind == .content else { return nil }
        let now = clock.now()
        var moved = ContentEventTiming()
        if timings.firstToken == nil {
            timings.firstToken = now
            moved.timeToFirstToken = now.since(timings.start)
            moved.afterResponseHead = timings.responseHead.map { now.since($0) }
        }
        if let last = timings.lastToken {
            let nanoseconds = now.nanoseconds >= last.nanoseconds ? Int64(now.nanoseconds - last.nanoseconds) : 0
            let gap = Duration.nanoseconds(nanoseconds)
            moved.gap = gap
            moved.gapNanoseconds = nanoseconds
            if gap > timings.longestTokenGap { timings.longestTokenGap = gap }
        }
        timings.lastToken = now
        return moved
    }
}
