import SluiceFilterAPI

/// `json`: one JSON text, walked completely by `JSONByteReader` (every object and array read member
/// by member, every string decoded, every number read with `readInt()`) and read by
/// `ReferenceJSONParser`.
///
/// Checks: both accept the same texts and read the same values; `skipValue()` ends where the walk
/// ended whenever the walk accepted; `readHasContent()` agrees with the value; the allocation-free
/// comparisons of `RawString` (`==`, `hasPrefix`, `hasSuffix`) agree with the decoded text.
enum JSONReaderTarget {
    static let target = FuzzTarget(
        name: "json",
        summary: "JSONByteReader: a full walk agrees with a reference parser; skipping and raw comparisons agree"
    ) { input throws(FuzzFinding) in try check(input) }

    static func check(_ input: UnsafeRawBufferPointer) throws(FuzzFinding) {
        let reference = ReferenceJSONParser.parse(input)
        guard reference != .tooDeep else { return }
        let bytes = input.assumingMemoryBound(to: UInt8.self)
        var walker = JSONByteReader(bytes)
        var finding: FuzzFinding?
        let walked = walk(&walker, depth: 0, finding: &finding)
        if let finding { throw finding }
        let accepted = !walker.failed && walker.isAtEnd()
        let mine: ReferenceJSONParser.Outcome = accepted ? walked.map { .value($0) } ?? .invalid : .invalid
        try FuzzFinding.expectEqual(reference, mine, "the reference parser", "JSONByteReader's walk")
        guard case .value(let value) = reference else { return }

        var skipper = JSONByteReader(bytes)
        skipper.skipValue()
        guard !skipper.failed, skipper.isAtEnd() else {
            throw FuzzFinding("skipValue() refused a text the walk accepted", details: "stopped at \(skipper.index)")
        }
        var probe = JSONByteReader(bytes)
        let hasContent = probe.readHasContent()
        try FuzzFinding.expectEqual(value.hasContent, hasContent && !probe.failed, "the value's content", "readHasContent()")
    }

    /// Reads the next value the way a caller that wants everything would, or nil once the reader failed.
    private static func walk(_ reader: inout JSONByteReader, depth: Int, finding: inout FuzzFinding?) -> JSONValue? {
        guard let kind = reader.peekKind() else { return nil }
        // Deeper than the reference reads (it answered `.tooDeep`, or failed earlier): no need to recurse.
        guard depth <= ReferenceJSONParser.maxDepth + 1 else {
            reader.skipValue()
            return nil
        }
        switch kind {
        case .object:
            var members: [JSONValue.Member] = []
            let ok = reader.readObject { key, inner in
                if finding == nil { finding = checkComparisons(key) }
                guard let value = walk(&inner, depth: depth + 1, finding: &finding) else { return }
                members.append(.init(key: key.decoded(), value: value))
            }
            return ok ? .object(members) : nil
        case .array:
            var elements: [JSONValue] = []
            let ok = reader.readArray { inner in
                if let element = walk(&inner, depth: depth + 1, finding: &finding) { elements.append(element) }
            }
            return ok ? .array(elements) : nil
        case .string:
            guard let raw = reader.readString() else { return nil }
            if finding == nil { finding = checkComparisons(raw) }
            return .string(raw.decoded())
        case .number:
            let start = reader.index
            let integer = reader.readInt()
            guard !reader.failed else { return nil }
            let text = String(decoding: UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(reader.bytes)[start..<reader.index]), as: UTF8.self)
            return .number(text: text.trimmingLeadingJSONWhitespace(), integer: integer)
        case .bool:
            let isTrue = reader.peekKind() == .bool && reader.bytes[reader.index] == UInt8(ascii: "t")
            reader.skipValue()
            return reader.failed ? nil : .bool(isTrue)
        case .null:
            return reader.readNull() ? .null : nil
        }
    }

    /// The raw comparisons must answer what a comparison of the decoded text answers.
    private static func checkComparisons(_ raw: JSONByteReader.RawString) -> FuzzFinding? {
        guard let text = raw.decoded() else { return nil }
        let literals: [(StaticString, String)] = [("type", "type"), ("content", "content"), ("é", "é"), ("", "")]
        for (literal, string) in literals {
            let answers = [raw == literal, raw.hasPrefix(literal), raw.hasSuffix(literal)]
            let expected = [text.utf8.elementsEqual(string.utf8), text.utf8.starts(with: string.utf8),
                            text.utf8.reversed().starts(with: string.utf8.reversed())]
            if answers != expected {
                return FuzzFinding(
                    "RawString comparison disagrees with the decoded text",
                    details: "\(text.debugDescription) vs \(string.debugDescription): ==, hasPrefix, hasSuffix gave \(answers)")
            }
        }
        return nil
    }
}

extension String {
    /// The number's text without the whitespace `readInt()` skipped before it.
    fileprivate func trimmingLeadingJSONWhitespace() -> String {
        String(drop { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" || $0 == "\r\n" })
    }
}
