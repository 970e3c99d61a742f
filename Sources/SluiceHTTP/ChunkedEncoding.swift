/// The chunked transfer coding (RFC 9112 section 7.1) for bodies the proxy writes.
///
/// A body is any number of chunks followed by `lastChunk`. Either use `writeChunk` (copies the payload), or, to avoid
/// copying large payloads, send `chunkHeader(size:)`, the payload itself, then `chunkTrailer`.
public enum ChunkedEncoding {
    /// Appends "<hex size>\r\n<payload>\r\n". Does nothing for an empty payload, because a zero-size chunk would end
    /// the body.
    public static func writeChunk(_ payload: UnsafeRawBufferPointer, into buffer: inout [UInt8]) {
        guard !payload.isEmpty else { return }
        appendHexSize(payload.count, into: &buffer)
        buffer.append(contentsOf: ASCII.crlf)
        buffer.append(contentsOf: payload)
        buffer.append(contentsOf: ASCII.crlf)
    }

    /// "<hex size>\r\n" (lowercase hex, no leading zeros) for a chunk of `size` bytes; `size` must not be negative.
    public static func chunkHeader(size: Int) -> [UInt8] {
        var header: [UInt8] = []
        header.reserveCapacity(18)
        appendHexSize(size, into: &header)
        header.append(contentsOf: ASCII.crlf)
        return header
    }

    /// Calls `body` with "<hex size>\r\n" for a chunk of `size` bytes, built on the stack (no allocation);
    /// the buffer is only valid during the call. Inlinable: called per forwarded chunk from another
    /// module, where an unspecialized generic looked up its `Result` metadata at run time on every
    /// call (about 230 instructions).
    @inlinable
    public static func withChunkHeader<R>(size: Int, _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        precondition(size >= 0, "chunk size must not be negative")
        return try withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 18) { out in
            let value = UInt(size)
            let digits = value == 0 ? 1 : (UInt.bitWidth - value.leadingZeroBitCount + 3) / 4
            for i in 0..<digits {
                let nibble = UInt8(truncatingIfNeeded: value >> UInt((digits - 1 - i) * 4)) & 0x0F
                out[i] = nibble < 10 ? 0x30 + nibble : 0x61 + nibble - 10
            }
            out[digits] = 0x0D
            out[digits + 1] = 0x0A
            return try body(UnsafeRawBufferPointer(start: out.baseAddress, count: digits + 2))
        }
    }

    /// The CRLF that must follow each chunk's payload.
    public static let chunkTrailer: [UInt8] = [0x0D, 0x0A]

    /// "0\r\n\r\n": the last chunk and an empty trailer section, ending the body.
    public static let lastChunk: [UInt8] = Array("0\r\n\r\n".utf8)

    /// Appends `size` as lowercase hexadecimal without leading zeros.
    static func appendHexSize(_ size: Int, into buffer: inout [UInt8]) {
        precondition(size >= 0, "chunk size must not be negative")
        let value = UInt(size)
        let digits = value == 0 ? 1 : (UInt.bitWidth - value.leadingZeroBitCount + 3) / 4
        var shift = (digits - 1) * 4
        while shift >= 0 {
            let nibble = UInt8(truncatingIfNeeded: value >> UInt(shift)) & 0x0F
            buffer.append(nibble < 10 ? ASCII.zero + nibble : 0x61 + nibble - 10)
            shift -= 4
        }
    }
}
