import Testing
@testable import SluiceFilterAPI

/// Runs `body` with a reader over `json`.
private func withReader<R>(_ json: String, _ body: (inout JSONByteReader) -> R) -> R {
    let bytes = Array(json.utf8)
    return bytes.withUnsafeBufferPointer { buffer in
        var reader = JSONByteReader(buffer)
        return body(&reader)
    }
}

/// Decodes the single string value of `json`.
private func decodeString(_ json: String) -> String? {
    withReader(json) { r in r.readString()?.decoded() }
}

/// Walks `json` fully (objects and arrays by walking, the rest by reading) and answers whether
/// it was accepted.
private func walks(_ json: String) -> Bool {
    withReader(json) { r in
        walk(&r)
        return r.isAtEnd()
    }
}

private func walk(_ r: inout JSONByteReader) {
    switch r.peekKind() {
    case .object: r.readObject { _, r in walk(&r) }
    case .array: r.readArray { r in walk(&r) }
    default: r.skipValue()
    }
}

@Suite struct JSONByteReaderTests {
    @Test func readsSelectedFieldsAndSkipsTheRest() {
        let json = #"{"skip":{"a":[1,2,{"b":"}"}]},"n":42,"s":"hi","neg":-7,"f":1.0,"e":1e3,"big":99999999999999999999,"null":null}"#
        withReader(json) { r in
            var n: Int?, s: String?, neg: Int?, f: Int?, e: Int?, big: Int?, sawNull = false
            let ok = r.readObject { key, r in
                if key == "n" { n = r.readInt() }
                else if key == "s" { s = r.readString()?.decoded() }
                else if key == "neg" { neg = r.readInt() }
                else if key == "f" { f = r.readInt() }
                else if key == "e" { e = r.readInt() }
                else if key == "big" { big = r.readInt() }
                else if key == "null" { sawNull = r.readNull() }
            }
            #expect(ok)
            let atEnd = r.isAtEnd()
            #expect(atEnd)
            #expect(n == 42)
            #expect(s == "hi")
            #expect(neg == -7)
            #expect(f == 1)
            #expect(e == nil)
            #expect(big == nil)
            #expect(sawNull)
        }
    }

    @Test func readIntOfTheWrongTypeIsAbsentNotAFailure() {
        withReader(#"{"a":"12","b":3}"#) { r in
            var a: Int?, b: Int?
            r.readObject { key, r in
                if key == "a" { a = r.readInt() } else if key == "b" { b = r.readInt() }
            }
            #expect(!r.failed)
            #expect(a == nil)
            #expect(b == 3)
        }
    }

    @Test func decodesEscapes() {
        #expect(decodeString(#""a\"b\\c\/d\b\f\n\r\t""#) == "a\"b\\c/d\u{08}\u{0C}\n\r\t")
        #expect(decodeString(#""caf\u00e9 \u00E9""#) == "café é")
        #expect(decodeString(#""\ud83d\ude00""#) == "😀")
        #expect(decodeString(#""日本語 😀""#) == "日本語 😀")
        #expect(decodeString(#""\u0000""#) == "\u{0}")
    }

    @Test func specialBytesAreFoundAtEveryOffset() {
        // The string scanner looks at eight bytes at a time; put what it must notice at every
        // position of a word, with plain and non-ASCII filler around it.
        for filler in ["a", "é", "😀"] {
            for offset in 0..<20 {
                let head = String(repeating: filler, count: offset)
                let tail = String(repeating: filler, count: 19 - offset)
                for (escaped, decoded) in [(#"\""#, "\""), (#"\\"#, "\\"), (#"\n"#, "\n"), (#"\u00e9"#, "é"), ("", "")] {
                    #expect(decodeString("\"" + head + escaped + tail + "\"") == head + decoded + tail)
                }
                #expect(!walks("\"" + head + "\u{1}" + tail + "\""))
                #expect(!walks("\"" + head + "\n" + tail + "\""))
                #expect(!walks("\"" + head + tail))
            }
        }
    }

    @Test func loneSurrogatesBecomeReplacementCharacters() {
        #expect(decodeString(#""\ud83d""#) == "\u{FFFD}")
        #expect(decodeString(#""\ude00x""#) == "\u{FFFD}x")
        #expect(decodeString(#""\ud83d\u0041""#) == "\u{FFFD}A")
    }

    @Test func malformedEscapesAreRejected() {
        #expect(decodeString(#""\x""#) == nil)
        #expect(decodeString(#""\u12""#) == nil)
        #expect(decodeString(#""\u12g4""#) == nil)
    }

    @Test func keysCompareDecoded() {
        withReader(#"{"\u0063hoices":1,"ch\"x":2}"#) { r in
            var hits: [String] = []
            r.readObject { key, _ in
                if key == "choices" { hits.append("choices") }
                if key == "ch\"x" { hits.append("quote") }
                if key == "choice" { hits.append("wrong") }
            }
            #expect(hits == ["choices", "quote"])
        }
    }

    @Test func prefixAndSuffix() {
        withReader(#""response.output_text.delta""#) { r in
            let s = r.readString()!
            #expect(s.hasPrefix("response."))
            #expect(s.hasSuffix(".delta"))
            #expect(!s.hasSuffix(".done"))
            #expect(!s.hasPrefix("response.output_text.delta.more"))
        }
    }

    @Test func hasContent() {
        let cases: [(String, Bool)] = [
            (#""""#, false), (#""x""#, true), (#""\n""#, true), ("null", false), ("false", false),
            ("true", true), ("0", true), ("[]", false), ("[ ]", false), ("[0]", true), ("{}", false),
            (#"{"a":1}"#, true),
        ]
        for (json, expected) in cases {
            withReader(json) { r in
                #expect(r.readHasContent() == expected, "\(json)")
                let atEnd = r.isAtEnd()
                #expect(atEnd, "\(json)")
            }
        }
    }

    @Test func acceptsWellFormedDocuments() {
        for json in [
            "{}", "[]", " { } ", #"{"a":[1,-2.5e+3,true,false,null,"s",{"b":[]}]}"#,
            "[1, 2 ,3]", "\t\r\n{\"a\" : 1 }\n", #""just a string""#, "12", "null",
        ] {
            #expect(walks(json), "\(json)")
        }
    }

    @Test func rejectsMalformedDocuments() {
        for json in [
            "", "{", "}", "[", "{\"a\":1", "{\"a\" 1}", "{\"a\":1,}", "{,\"a\":1}", "[1,]", "[1 2]",
            "{\"a\":}", "{a:1}", "{\"a\":1}}", "{\"a\":1} x", "nul", "tru", "\"open", "-", "1.",
            "{\"a\":\"\\", "{\"a\":[1,2}", "[{]", "x",
            "\"a\tb\"", "\"\\q\"", "\"\\u12g4\"", "\"\\u12\"", "[\"\\x\"]", "{\"k\":[\"\n\"]}", "01", "1e", "1.e5", "+1", ".5",
        ] {
            #expect(!walks(json), "\(json)")
        }
    }

    @Test func deepNestingIsSkippedWithoutRecursion() {
        let depth = 200_000
        let json = "{\"skip\":" + String(repeating: "[", count: depth) + String(repeating: "]", count: depth) + ",\"n\":1}"
        withReader(json) { r in
            var n: Int?
            r.readObject { key, r in if key == "n" { n = r.readInt() } }
            #expect(n == 1)
            let atEnd = r.isAtEnd()
            #expect(atEnd)
        }
        let unbalanced = "{\"skip\":" + String(repeating: "[", count: depth) + "}"
        withReader(unbalanced) { r in
            r.readObject { _, _ in }
            #expect(r.failed)
        }
    }

    @Test func keysOfEveryLengthCompareAtEveryDistanceFromTheEnd() {
        // A key is read in one step when it fits one block and twenty bytes are left, or two
        // blocks and thirty-six bytes are left, else byte by byte; its comparison looks at one or
        // two words, or more. Cover both sides of each edge.
        let letters = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJ")
        for length in 0...34 {
            let key = String(letters[0..<length])
            for padding in [0, 1, 7, 8, 20, 21, 22, 36] {
                let json = "{\"" + key + "\":1" + String(repeating: " ", count: padding) + "}"
                withReader(json) { r in
                    var members = r.beginObject()
                    let found = r.nextMember(&members)
                    #expect(found?.decoded() == key, "\(json)")
                    #expect(found.map { matchesLiteral($0, length) } == true, "\(json)")
                    // Same length, last byte different; same length, first byte different.
                    if length > 0, let found {
                        #expect(!matchesLiteral(found, length, changingAt: length - 1), "\(json)")
                        #expect(!matchesLiteral(found, length, changingAt: 0), "\(json)")
                    }
                    #expect(r.readInt() == 1)
                    #expect(r.nextMember(&members) == nil)
                    let atEnd = r.isAtEnd()
                    #expect(atEnd, "\(json)")
                }
            }
        }
    }

    @Test func anEscapeOrAControlByteInAKeyIsSeenAtEveryOffset() {
        for length in 1...34 {
            for offset in 0..<length {
                var key = Array(repeating: "k", count: length)
                key[offset] = #"\u006b"#
                let escaped = "{\"" + key.joined() + "\":1,\"n\":2}"
                withReader(escaped) { r in
                    var keys: [String] = []
                    r.readObject { key, r in keys.append(key.decoded() ?? "?"); _ = r.readInt() }
                    #expect(keys == [String(repeating: "k", count: length), "n"], "\(escaped)")
                    #expect(!r.failed)
                }
                key[offset] = "\u{1}"
                #expect(!walks("{\"" + key.joined() + "\":1,\"n\":2}"))
                key[offset] = "\""
                #expect(!walks("{\"" + key.joined() + "\":1,\"n\":2}"))
            }
        }
    }

    @Test func membersWithWhitespaceOrMissingPartsAroundTheCompactShape() {
        #expect(walks(#"{"a":1,"bb":2 ,"ccc" :3, "dddd": 4,"eeeee":"five","ffffff":[],"ggggggg":{}}"#))
        #expect(walks("{\"a\":\n1,\"b\":\t2}"))
        for json in [#"{"a":1,,"b":2}"#, #"{"a":1,"b"2}"#, #"{"a":1,"b":}"#, #"{"a":1 "b":2}"#,
                     #"{"a":1,b":2}"#, #"{"a":1,"b":2,}"#, #"{,"a":1}"#, #"{"a":1,"b":2"#] {
            #expect(!walks(json), "\(json)")
        }
    }

    @Test func integersOfEveryLengthAndWhatFollowsThem() {
        for digits in 1...20 {
            let number = String(Array("12345678901234567890")[0..<digits])
            for tail in ["", ".5", ".0", "e3", "E+2", ".", "e", "x", "-"] {
                for padding in [0, 9] {
                    let json = "[" + number + tail + ",1" + String(repeating: "1", count: padding) + "]"
                    let valid = ![".", "e", "x", "-"].contains(tail)
                    #expect(walks(json) == valid, "\(json)")
                }
            }
            withReader("{\"n\":" + number + "}") { r in
                var n: Int?
                r.readObject { _, r in n = r.readInt() }
                #expect(n == Int(number), "\(number)")
            }
        }
        for json in ["[0]", "[-0]", "[0.5]", "[0e1]", "[-1]"] { #expect(walks(json), "\(json)") }
        for json in ["[01]", "[00]", "[-01]", "[-]", "[--1]", "[0x1]"] { #expect(!walks(json), "\(json)") }
    }

    /// `json` is an object whose `skip` member is skipped and whose `n` is 7, read to its end.
    private func expectSevenAfterTheSkip(_ json: String) {
        withReader(json) { r in
            var n: Int?
            r.readObject { key, r in if key == "n" { n = r.readInt() } }
            #expect(n == 7, "\(json)")
            let atEnd = r.isAtEnd()
            #expect(atEnd, "\(json)")
        }
    }

    @Test func skippedContainersFindTheirEndAtEveryOffset() {
        // Skipped containers are searched eight bytes at a time for quotes and brackets.
        for offset in 0..<20 {
            let pad = String(repeating: "1,", count: offset / 2) + (offset % 2 == 0 ? "" : " ")
            let inner = "[" + pad + #""]}\"[{",{"a":[]},"x"]"#
            let json = #"{"skip":"# + inner + #","n":7}"#
            expectSevenAfterTheSkip(json)
            #expect(!walks(#"{"skip":"# + "[" + pad + #""\q"]}"#), "offset \(offset)")
            #expect(!walks(#"{"skip":"# + "[" + pad + "\"open]}"), "offset \(offset)")
        }
        // What a skip has always checked: bracket balance and strings, not which bracket closes.
        withReader(#"{"skip":[1 2 : x},"n":1}"#) { r in
            var n: Int?
            r.readObject { key, r in if key == "n" { n = r.readInt() } }
            #expect(n == 1)
            #expect(!r.failed)
        }
    }

    @Test func stringsEndAtEveryOffsetOfABlockAndAtEveryDistanceFromTheEnd() {
        // Strings are scanned sixteen bytes at a time, and the last bytes of a text as one block
        // that overlaps bytes already passed (byte by byte when the whole text is shorter than a
        // block). Put a string's end, an escape or a control byte at every offset of the first
        // three blocks, and the text's end at every distance after it.
        for filler in ["a", "é"] {
            for length in 0..<40 {
                let plain = String(repeating: filler, count: length)
                for padding in [0, 1, 2, 7, 8, 9, 14, 15, 16, 17] {
                    let spaces = String(repeating: " ", count: padding)
                    expectString("\"" + plain + "\"", decodesTo: plain, padding: spaces)
                    // Unterminated, its last bytes in the overlapping block.
                    #expect(!walks("\"" + plain + spaces), "\(length) \(padding)")
                    #expect(!walks(#"{"skip":[""# + plain + spaces), "\(length) \(padding)")
                }
            }
        }
        // Past the first block, a long string is scanned two blocks a step.
        for length in Array(1..<36) + [47, 48, 49, 63, 64, 65, 80, 81] {
            for offset in 0..<length {
                let head = String(repeating: "a", count: offset)
                let tail = String(repeating: "b", count: length - offset - 1)
                for padding in length < 36 ? [0, 1, 9, 15, 16] : [0, 17] {
                    let spaces = String(repeating: " ", count: padding)
                    for (escape, decoded) in [(#"\""#, "\""), (#"\\"#, "\\"), (#"\/"#, "/"), (#"\t"#, "\t"),
                                              (#"\u00e9"#, "é")] {
                        expectString("\"" + head + escape + tail + "\"", decodesTo: head + decoded + tail, padding: spaces)
                    }
                    for bad in ["\u{0}", "\u{1}", "\n", "\u{1F}", #"\x"#, #"\u00g0"#] {
                        let json = "\"" + head + bad + tail + "\""
                        #expect(!walks(json + spaces), "\(json)")
                        #expect(!walks(#"{"skip":["# + json + #"],"n":1}"# + spaces), "\(json)")
                        let content = Array((json + spaces).utf8).withUnsafeBufferPointer {
                            JSONByteReader($0).endOfStringContent(at: 1)
                        }
                        #expect(content == -1, "\(json)")
                    }
                    // Bytes 0x7F and above are plain string bytes.
                    expectString("\"" + head + "\u{7F}" + tail + "\"", decodesTo: head + "\u{7F}" + tail, padding: spaces)
                }
            }
        }
    }

    @Test func skippedContainersFindBracketsAtEveryOffsetOfABlock() {
        // Containers are skipped sixteen bytes at a time; a string inside one is skipped inline.
        for offset in 0..<40 {
            let pad = String(repeating: "1,", count: offset / 2) + (offset % 2 == 0 ? "" : " ")
            for inner in [#"[]"#, #"{}"#, #""x""#, #""]}[{""#, #""\"]""#, #"{"k":["v"]}"#] {
                let json = #"{"skip":["# + pad + inner + #"],"n":7}"#
                expectSevenAfterTheSkip(json)
            }
            #expect(!walks(#"{"skip":["# + pad + #"[]"#), "offset \(offset)")
            #expect(!walks(#"{"skip":["# + pad + "\"a\u{1}\"]}"), "offset \(offset)")
        }
    }

    @Test func failureIsSticky() {
        withReader("[1,}") { r in
            r.readArray { _ in }
            #expect(r.failed)
            #expect(r.peekKind() == nil)
            #expect(r.readString() == nil)
            #expect(r.readInt() == nil)
            let atEnd = r.isAtEnd()
            #expect(!atEnd)
        }
    }
}

/// Whether `key` equals the first `length` letters of the alphabet, with the letter at `changingAt`
/// (if any) replaced: through `==` with a literal, as the classifier compares keys.
private func matchesLiteral(_ key: JSONByteReader.RawString, _ length: Int, changingAt changed: Int? = nil) -> Bool {
    let literals: [StaticString] = [
        "", "a", "ab", "abc", "abcd", "abcde", "abcdef", "abcdefg", "abcdefgh", "abcdefghi", "abcdefghij",
        "abcdefghijk", "abcdefghijkl", "abcdefghijklm", "abcdefghijklmn", "abcdefghijklmno", "abcdefghijklmnop",
        "abcdefghijklmnopq", "abcdefghijklmnopqr", "abcdefghijklmnopqrs", "abcdefghijklmnopqrst",
        "abcdefghijklmnopqrstu", "abcdefghijklmnopqrstuv", "abcdefghijklmnopqrstuvw", "abcdefghijklmnopqrstuvwx",
        "abcdefghijklmnopqrstuvwxy", "abcdefghijklmnopqrstuvwxyz", "abcdefghijklmnopqrstuvwxyzA",
        "abcdefghijklmnopqrstuvwxyzAB", "abcdefghijklmnopqrstuvwxyzABC", "abcdefghijklmnopqrstuvwxyzABCD",
        "abcdefghijklmnopqrstuvwxyzABCDE", "abcdefghijklmnopqrstuvwxyzABCDEF", "abcdefghijklmnopqrstuvwxyzABCDEFG",
        "abcdefghijklmnopqrstuvwxyzABCDEFGH",
    ]
    let changedFirst: [StaticString] = [
        "", "Z", "Zb", "Zbc", "Zbcd", "Zbcde", "Zbcdef", "Zbcdefg", "Zbcdefgh", "Zbcdefghi", "Zbcdefghij",
        "Zbcdefghijk", "Zbcdefghijkl", "Zbcdefghijklm", "Zbcdefghijklmn", "Zbcdefghijklmno", "Zbcdefghijklmnop",
        "Zbcdefghijklmnopq", "Zbcdefghijklmnopqr", "Zbcdefghijklmnopqrs", "Zbcdefghijklmnopqrst",
        "Zbcdefghijklmnopqrstu", "Zbcdefghijklmnopqrstuv", "Zbcdefghijklmnopqrstuvw", "Zbcdefghijklmnopqrstuvwx",
        "Zbcdefghijklmnopqrstuvwxy", "Zbcdefghijklmnopqrstuvwxyz", "ZbcdefghijklmnopqrstuvwxyzA",
        "ZbcdefghijklmnopqrstuvwxyzAB", "ZbcdefghijklmnopqrstuvwxyzABC", "ZbcdefghijklmnopqrstuvwxyzABCD",
        "ZbcdefghijklmnopqrstuvwxyzABCDE", "ZbcdefghijklmnopqrstuvwxyzABCDEF", "ZbcdefghijklmnopqrstuvwxyzABCDEFG",
        "ZbcdefghijklmnopqrstuvwxyzABCDEFGH",
    ]
    let changedLast: [StaticString] = [
        "", "Z", "aZ", "abZ", "abcZ", "abcdZ", "abcdeZ", "abcdefZ", "abcdefgZ", "abcdefghZ", "abcdefghiZ",
        "abcdefghijZ", "abcdefghijkZ", "abcdefghijklZ", "abcdefghijklmZ", "abcdefghijklmnZ", "abcdefghijklmnoZ",
        "abcdefghijklmnopZ", "abcdefghijklmnopqZ", "abcdefghijklmnopqrZ", "abcdefghijklmnopqrsZ",
        "abcdefghijklmnopqrstZ", "abcdefghijklmnopqrstuZ", "abcdefghijklmnopqrstuvZ", "abcdefghijklmnopqrstuvwZ",
        "abcdefghijklmnopqrstuvwxZ", "abcdefghijklmnopqrstuvwxyZ", "abcdefghijklmnopqrstuvwxyzZ",
        "abcdefghijklmnopqrstuvwxyzAZ", "abcdefghijklmnopqrstuvwxyzABZ", "abcdefghijklmnopqrstuvwxyzABCZ",
        "abcdefghijklmnopqrstuvwxyzABCDZ", "abcdefghijklmnopqrstuvwxyzABCDEZ", "abcdefghijklmnopqrstuvwxyzABCDEFZ",
        "abcdefghijklmnopqrstuvwxyzABCDEFGZ",
    ]
    switch changed {
    case nil: return key == literals[length]
    case 0: return key == changedFirst[length]
    default: return key == changedLast[length]
    }
}

/// Expects the string `json`, followed by `padding`, to decode to `decoded` however it is met: read,
/// skipped inside an object, skipped inside a skipped array, and through `endOfStringContent(at:)`.
private func expectString(_ json: String, decodesTo decoded: String, padding: String,
                          sourceLocation: SourceLocation = #_sourceLocation) {
    withReader(json + padding) { r in
        #expect(r.readString()?.decoded() == decoded, "\(json)", sourceLocation: sourceLocation)
        let atEnd = r.isAtEnd()
        #expect(atEnd, "\(json)", sourceLocation: sourceLocation)
    }
    let end = Array((json + padding).utf8).withUnsafeBufferPointer { JSONByteReader($0).endOfStringContent(at: 1) }
    #expect(end == json.utf8.count - 1, "\(json)", sourceLocation: sourceLocation)
    for wrapped in [#"{"s":"# + json + #","n":1}"#, #"{"skip":[1,"# + json + #",{"a":"# + json + #"}],"n":1}"#] {
        withReader(wrapped + padding) { r in
            var n: Int?
            r.readObject { key, r in if key == "n" { n = r.readInt() } }
            #expect(n == 1, "\(wrapped)", sourceLocation: sourceLocation)
            let atEnd = r.isAtEnd()
            #expect(atEnd, "\(wrapped)", sourceLocation: sourceLocation)
        }
    }
}
