import SluiceFilterAPI

/// `classify`: one event's `data`, classified by `LLMEventClassifier` in both dialects, with and
/// without an `event:` name. A first line `@NAME` (ended by LF) gives the name; the rest is the data.
///
/// Checks: every answer (kind, usage, finish reason, error message and type) is the one
/// `OracleClassifier`, the classifier as it was before its reader was rewritten for speed, gives;
/// and so is the usage `usage(ofResponseBody:)` reads from the data taken as a whole body, unless
/// the oracle refused that body (its usage-only walk does not check inside members it skips).
/// So a faster reader can change neither what an event means nor which malformed data is refused.
///
/// Then the data as a stream: split at NUL bytes into events, each followed by variants of itself
/// with one run of letters and digits emptied, lengthened, or given an escape or a quote. All go
/// in order through one `LLMEventShape`, as a stream's events do, and each answer must be the
/// oracle's: a variant whose change lies inside a string the classifier skips is answered from the
/// kept shape, and one whose change lies anywhere else must not be.
enum ClassifierTarget {
    static let target = FuzzTarget(
        name: "classify",
        summary: "LLMEventClassifier: both dialects answer what the classifier before the fast reader answered"
    ) { input throws(FuzzFinding) in try check(input) }

    static func check(_ input: UnsafeRawBufferPointer) throws(FuzzFinding) {
        let bytes = input.assumingMemoryBound(to: UInt8.self)
        var name: UnsafeBufferPointer<UInt8>?
        var data = bytes
        if bytes.first == UInt8(ascii: "@"), let lf = bytes.firstIndex(of: 0x0A) {
            name = UnsafeBufferPointer(rebasing: bytes[1..<lf])
            data = UnsafeBufferPointer(rebasing: bytes[(lf + 1)...])
        }
        for dialect in StreamDialect.allCases {
            for eventName in dialect == .anthropic && name != nil ? [name, nil] : [name] {
                let expected = OracleClassifier.classify(data: data, name: eventName, dialect: dialect)
                let answer = LLMEventClassifier.classify(data: data, name: eventName, dialect: dialect)
                try FuzzFinding.expectEqual(expected, answer, "the oracle (\(dialect))", "LLMEventClassifier")
            }
            // A whole non-streamed body: the usage-only walk answers the full classification's usage
            // whenever that has one, and has one of its own only where the full reading refused the body.
            let bodyUsage = LLMEventClassifier.usage(ofResponseBody: Array(data), dialect: dialect)
            let oracle = OracleClassifier.classify(data: data, name: nil, dialect: dialect)
            if oracle.usage != nil || bodyUsage == nil || oracle.kind != .other {
                try FuzzFinding.expectEqual(oracle.usage, bodyUsage, "the oracle's usage (\(dialect))", "usage(ofResponseBody:)")
            }
        }
        try checkStream(data, name: name)
    }

    /// How many runs of each event get variants: enough to reach the strings of a chunk, few
    /// enough to keep an input's check short.
    static let variedRuns = 12

    static func checkStream(_ data: UnsafeBufferPointer<UInt8>, name: UnsafeBufferPointer<UInt8>?) throws(FuzzFinding) {
        var shape = LLMEventShape()
        for event in data.split(separator: 0, omittingEmptySubsequences: false) {
            let event = Array(event)
            for variant in [event] + variants(of: event) {
                try variant.withUnsafeBufferPointer { (bytes) throws(FuzzFinding) in
                    for dialect in StreamDialect.allCases {
                        let expected = OracleClassifier.classify(data: bytes, name: name, dialect: dialect)
                        let answer = LLMEventClassifier.classify(data: bytes, name: name, dialect: dialect, shape: &shape)
                        try FuzzFinding.expectEqual(
                            expected, answer, "the oracle (\(dialect))", "LLMEventClassifier through a stream's shape")
                    }
                }
            }
        }
    }

    /// `event` with one of its first `variedRuns` runs of ASCII letters and digits changed in each
    /// of the ways a stream's next event differs from its last: emptied, longer, with an escape,
    /// with a quote; and the event itself again.
    static func variants(of event: [UInt8]) -> [[UInt8]] {
        var out: [[UInt8]] = [event]
        var runs = 0
        var i = 0
        while i < event.count, runs < variedRuns {
            guard isWordByte(event[i]) else { i += 1; continue }
            var end = i
            while end < event.count, isWordByte(event[end]) { end += 1 }
            let before = Array(event[..<i])
            let after = Array(event[end...])
            let run = Array(event[i..<end])
            out.append(before + after)
            out.append(before + run + Array("x9".utf8) + after)
            out.append(before + run + Array("\\n".utf8) + after)
            out.append(before + run + Array("\"".utf8) + after)
            runs += 1
            i = end
        }
        return out
    }

    private static func isWordByte(_ b: UInt8) -> Bool {
        (b >= 0x30 && b <= 0x39) || (b | 0x20 >= 0x61 && b | 0x20 <= 0x7A)
    }
}
