/// Writes the pieces of a start line so that each stays one SP-delimited part, whatever a filter put into it.
enum StartLineWriter {
    /// Appends `method`, percent-encoding any byte that is not a token character ('%' is one, so the result is still
    /// a token). A method parsed by `HTTPRequestParser` is copied unchanged.
    static func writeMethod(_ method: String, into writer: inout HeadWriter) {
        var method = method
        method.withUTF8 { bytes in
            let bytes = UnsafeRawBufferPointer(bytes)
            writePercentEncoded(bytes, into: &writer, clean: bytes.allSatisfy(ASCII.isTokenChar)) { !ASCII.isTokenChar($0) }
        }
    }

    /// Appends `target`, percent-encoding SP, controls and DEL (the bytes that could split or end the request line).
    /// A target parsed by `HTTPRequestParser` contains none of them and is copied unchanged.
    static func writeTarget(_ target: String, into writer: inout HeadWriter) {
        var target = target
        target.withUTF8 { bytes in
            let bytes = UnsafeRawBufferPointer(bytes)
            writePercentEncoded(bytes, into: &writer, clean: !ByteSearch.containsSpaceControlOrDelete(bytes)) {
                $0 <= ASCII.space || $0 == ASCII.delete
            }
        }
    }

    /// The most bytes `writeMethod` or `writeTarget` write for `text`: each byte may become three.
    static func writeBound(_ text: String) -> Int { 3 &* text.utf8.count }

    /// Appends a reason phrase; CR, LF and NUL become SP (the phrase is free text up to the line end).
    static func writeReason(_ reason: String, into writer: inout HeadWriter) {
        HeaderFieldWriter.appendSanitized(reason, into: &writer)
    }

    /// Appends `bytes`, in one copy when `clean` (none needs encoding, the common case).
    @inline(__always)
    private static func writePercentEncoded(
        _ bytes: UnsafeRawBufferPointer, into writer: inout HeadWriter, clean: Bool, where needsEncoding: (UInt8) -> Bool
    ) {
        if clean {
            writer.append(bytes)
            return
        }
        for byte in bytes {
            if needsEncoding(byte) {
                writer.append(UInt8(ascii: "%"))
                writer.append(hexDigit(byte >> 4), hexDigit(byte & 0x0F))
            } else {
                writer.append(byte)
            }
        }
    }

    @inline(__always)
    private static func hexDigit(_ nibble: UInt8) -> UInt8 { nibble < 10 ? ASCII.zero + nibble : 0x41 + nibble - 10 }
}
