/// Writes the pieces of a start line so that each stays one SP-delimited part, whatever a filter put into it.
enum StartLineWriter {
    /// Appends `method`, percent-encoding any byte that is not a token character ('%' is one, so the result is still
    /// a token). A method parsed by `HTTPRequestParser` is copied unchanged.
    static func writeMethod(_ method: String, into buffer: inout [UInt8]) {
        writePercentEncoded(method, into: &buffer) { !ASCII.isTokenChar($0) }
    }

    /// Appends `target`, percent-encoding SP, controls and DEL (the bytes that could split or end the request line).
    /// A target parsed by `HTTPRequestParser` contains none of them and is copied unchanged.
    static func writeTarget(_ target: String, into buffer: inout [UInt8]) {
        writePercentEncoded(target, into: &buffer) { $0 <= ASCII.space || $0 == ASCII.delete }
    }

    /// Appends a reason phrase; CR, LF and NUL become SP (the phrase is free text up to the line end).
    static func writeReason(_ reason: String, into buffer: inout [UInt8]) {
        HeaderFieldWriter.appendSanitized(reason, into: &buffer)
    }

    private static func writePercentEncoded(
        _ text: String, into buffer: inout [UInt8], where needsEncoding: (UInt8) -> Bool
    ) {
        var text = text
        text.withUTF8 { bytes in
            // The common case is clean text: one bulk copy after a tight scan.
            if !bytes.contains(where: needsEncoding) {
                buffer.append(contentsOf: bytes)
                return
            }
            for byte in bytes {
                if needsEncoding(byte) {
                    buffer.append(UInt8(ascii: "%"))
                    buffer.append(hexDigit(byte >> 4))
                    buffer.append(hexDigit(byte & 0x0F))
                } else {
                    buffer.append(byte)
                }
            }
        }
    }

    @inline(__always)
    private static func hexDigit(_ nibble: UInt8) -> UInt8 { nibble < 10 ? ASCII.zero + nibble : 0x41 + nibble - 10 }
}
