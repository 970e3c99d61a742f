import Testing
@testable import SluiceFilterAPI

@Suite struct JSONTextTests {
    @Test func quotes() {
        #expect(JSONText.quoted("") == #""""#)
        #expect(JSONText.quoted("plain") == #""plain""#)
        #expect(JSONText.quoted(#"a"b\c"#) == #""a\"b\\c""#)
        #expect(JSONText.quoted("\n\r\t\u{08}\u{0C}") == #""\n\r\t\b\f""#)
        #expect(JSONText.quoted("\u{0}\u{1}\u{1B}\u{1F}") == #""\u0000\u0001\u001b\u001f""#)
        #expect(JSONText.quoted("\u{7F} é 日本 😀 /") == "\"\u{7F} é 日本 😀 /\"")
    }

    @Test func appendsToBytes() {
        var bytes = Array("x=".utf8)
        JSONText.appendQuoted("a\"", to: &bytes)
        #expect(String(decoding: bytes, as: UTF8.self) == #"x="a\"""#)
    }

    @Test func everyScalarRoundTripsThroughTheReader() {
        var all = ""
        for v in UInt32(0)..<0x300 { all.unicodeScalars.append(Unicode.Scalar(v)!) }
        all += "\u{2028}\u{2029}\u{FEFF}😀"
        let quoted = Array(JSONText.quoted(all).utf8)
        let decoded = quoted.withUnsafeBufferPointer { buffer -> String? in
            var reader = JSONByteReader(buffer)
            let s = reader.readString()?.decoded()
            return reader.isAtEnd() ? s : nil
        }
        #expect(decoded == all)
    }
}
