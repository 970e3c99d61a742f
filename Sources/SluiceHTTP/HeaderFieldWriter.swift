/// Serialises fields and free text that did not come from the parser, refusing to let their content break the
/// message framing.
enum HeaderFieldWriter {
    /// Appends `name: value\r\n`. Skips the field when `name` is not a token; writes CR, LF and NUL in `value` as SP.
    static func write(name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer, into writer: inout HeadWriter) {
        guard !name.isEmpty && name.allSatisfy(ASCII.isTokenChar) else { return }
        if breaksLine(value) {
            writeSanitizing(name: name, value: value, into: &writer)
        } else {
            writer.appendLine(name: name, value: value)
        }
    }

    /// Appends `name: value\r\n` for a `name` the caller checked, with CR, LF and NUL in `value` written as SP.
    @inline(__always)
    static func writeSanitizing(name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer, into writer: inout HeadWriter) {
        writer.append(name)
        writer.append(ASCII.colon, ASCII.space)
        appendSanitized(value, into: &writer)
        writer.append(ASCII.cr, ASCII.lf)
    }

    /// Appends `name: value\r\n` as it is (the caller checked both), put together on the stack and
    /// appended in one copy: an append per piece cost more than the rest of writing a field.
    @inline(__always)
    static func appendLine(name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer, into buffer: inout [UInt8]) {
        let length = name.count + value.count + 4
        withUnsafeTemporaryAllocation(byteCount: length, alignment: 1) { line in
            line.copyMemory(from: name)
            line[name.count] = ASCII.colon
            line[name.count + 1] = ASCII.space
            UnsafeMutableRawBufferPointer(rebasing: line[(name.count + 2)...]).copyMemory(from: value)
            line[length - 2] = ASCII.cr
            line[length - 1] = ASCII.lf
            buffer.append(contentsOf: UnsafeRawBufferPointer(line))
        }
    }

    /// Appends `text`, replacing the bytes that could end a line or a head early (CR, LF, NUL) with SP.
    static func appendSanitized(_ text: String, into writer: inout HeadWriter) {
        var text = text
        text.withUTF8 { appendSanitized(UnsafeRawBufferPointer($0), into: &writer) }
    }

    /// Whether `bytes` holds CR, LF or NUL, the bytes `appendSanitized` replaces.
    static func breaksLine(_ bytes: UnsafeRawBufferPointer) -> Bool {
        ByteSearch.containsLineBreak(bytes)
    }

    @inline(__always)
    static func appendSanitized(_ bytes: UnsafeRawBufferPointer, into writer: inout HeadWriter) {
        // The common case is clean text: one bulk copy after a word-at-a-time scan.
        if !breaksLine(bytes) {
            writer.append(bytes)
        } else {
            writer.append(bytes, replacing: isLineBreaking, with: ASCII.space)
        }
    }

    @inline(__always)
    private static func isLineBreaking(_ byte: UInt8) -> Bool {
        byte == ASCII.cr || byte == ASCII.lf || byte == 0
    }
}
