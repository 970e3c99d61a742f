import SluiceHTTP
import Testing

/// A head is written into memory sized by the caller's bound. A bound that falls short must neither
/// write past that memory nor stop the process: the head comes out whole, written again with room.
@Suite struct HeadWriterTests {
    private static func writeHead(_ writer: inout HeadWriter) {
        writer.append(UnsafeRawBufferPointer(start: nil, count: 0))
        "HTTP/1.1 200 OK\r\n".utf8CString.dropLast().withUnsafeBytes { writer.append($0) }
        writer.appendField(known: "x-request-id", "0123456789abcdef0123456789abcdef")
        writer.appendField(known: "content-length", decimal: 12_345)
        writer.appendField("x-note", "line\r\nbreak")
        writer.append(UInt8(ascii: "!"))
        writer.appendEmptyLine()
    }

    private static let expected = "HTTP/1.1 200 OK\r\nx-request-id: 0123456789abcdef0123456789abcdef\r\n"
        + "content-length: 12345\r\nx-note: line  break\r\n!\r\n"

    @Test(arguments: [0, 1, 17, 40, 90, 104, 105, 400])
    func theHeadComesOutWholeWhateverTheBound(bound: Int) {
        #expect(String(decoding: HeadWriter.bytes(bound: bound, Self.writeHead), as: UTF8.self) == Self.expected)
        let written = HeadWriter.withBytes(bound: bound, Self.writeHead) { String(decoding: $0, as: UTF8.self) }
        #expect(written == Self.expected)
        var appended = Array("before ".utf8)
        HeadWriter.append(to: &appended, bound: bound, Self.writeHead)
        #expect(String(decoding: appended, as: UTF8.self) == "before " + Self.expected)
    }

    @Test func aShortBoundHandsUseOneWholeHeadOnce() {
        var calls = 0
        let count = HeadWriter.withBytes(bound: 10, Self.writeHead) { bytes -> Int in
            calls += 1
            return bytes.count
        }
        #expect(calls == 1)
        #expect(count == Self.expected.utf8.count)
    }
}
