import SluiceFilterAPI

/// `classify`: one event's `data`, classified by `LLMEventClassifier` in both dialects, with and
/// without an `event:` name. A first line `@NAME` (ended by LF) gives the name; the rest is the data.
///
/// Checks: every answer (kind, usage, finish reason, error message and type) is the one
/// `OracleClassifier`, the classifier as it was before its reader was rewritten for speed, gives.
/// So a faster reader can change neither what an event means nor which malformed data is refused.
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
        }
    }
}
