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
