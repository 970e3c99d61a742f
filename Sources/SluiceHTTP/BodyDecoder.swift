/// Removes the framing from a message body as it streams in: counts down a Content-Length, decodes the chunked
/// coding (sizes, extensions, CRLFs, trailers), or passes a close-delimited body through. The single implementation
/// behind both parsers.
///
/// Payload is handed out as slices of the caller's input, never copied. Chunk extensions are validated and ignored;
/// trailer fields are validated like header fields and dropped.
struct BodyDecoder: Sendable {
    private enum State: UInt8, Sendable {
        case done
        case contentLength
        case closeDelimited
        case chunkSize
        /// SP/HTAB after the size digits: only allowed when an extension (';') follows.
        case chunkSizeWhitespace
        case chunkExtension
        case chunkSizeLF
        case chunkData
        case chunkDataCR
        case chunkDataLF
        case trailerLineStart
        case trailerName
        case trailerValue
        case trailerLF
        case finalLF
    }

    private var state: State
    /// Content-Length bytes still to come, or bytes left in the current chunk.
    private var remaining = 0
    private var chunkSize = 0
    private var chunkDigits = 0
    private var chunkLineBytes = 0
    private var chunkedTotal = 0
    private var trailerBytes = 0
    private let maxBodyBytes: Int
    private let maxChunkLineBytes: Int
    private let maxTrailerBytes: Int

    /// A decoder for a body framed as `framing`; `.none` and `.contentLength(0)` start out done.
    init(framing: BodyFraming, limits: HTTPLimits) {
        maxBodyBytes = limits.maxBodyBytes
        maxChunkLineBytes = limits.maxChunkLineBytes
        maxTrailerBytes = limits.maxTrailerBytes
        switch framing {
        case .none:
            state = .done
        case .contentLength(let length):
            state = length == 0 ? .done : .contentLength
            remaining = length
        case .chunked:
            state = .chunkSize
        case .closeDelimited:
            state = .closeDelimited
        }
    }

    /// True once the whole body has been read; the message ends there.
    var isDone: Bool { state == .done }

    /// True while the body runs until the connection closes.
    var isCloseDelimited: Bool { state == .closeDelimited }

    /// Decodes `input[start...]`, calling `onBody` with each run of payload. Returns the offset just past the last
    /// byte that belongs to this body: `input.count` unless the body ended inside the input. Throws 400 for chunked
    /// syntax errors, 413 when chunk sizes pass `maxBodyBytes`, 431 for an oversized trailer section.
    mutating func decode(
        _ input: UnsafeRawBufferPointer, from start: Int, _ onBody: (UnsafeRawBufferPointer) -> Void
    ) throws(HTTPParseError) -> Int {
        let end = input.count
        var index = start
        while index < end {
            switch state {
            case .done:
                return index
            case .contentLength, .chunkData:
                let take = min(remaining, end &- index)
                onBody(UnsafeRawBufferPointer(rebasing: input[index..<(index &+ take)]))
                remaining &-= take
                index &+= take
                if remaining == 0 {
                    state = state == .contentLength ? .done : .chunkDataCR
                }
            case .closeDelimited:
                onBody(UnsafeRawBufferPointer(rebasing: input[index..<end]))
                return end
            case .chunkSize where chunkLineBytes == 0:
                // A line's first byte: the common line, hex digits and CRLF all in this read, is read
                // in one pass. Anything else (an extension, whitespace, a line cut by the read's end,
                // 16 digits or more) goes byte by byte from the start, with every check.
                var i = index
                var size = 0
                while i < end, i &- index < 15, let digit = ASCII.hexValue(input[i]) {
                    size = size &<< 4 | digit
                    i &+= 1
                }
                let digits = i &- index
                if digits > 0, digits <= maxChunkLineBytes, i &+ 1 < end, input[i] == ASCII.cr, input[i &+ 1] == ASCII.lf {
                    chunkSize = size
                    index = i &+ 2
                    try finishChunkSizeLine()
                } else {
                    try chunkSizeLine(input[index])
                    index &+= 1
                }
            case .chunkSize, .chunkSizeWhitespace, .chunkExtension, .chunkSizeLF:
                try chunkSizeLine(input[index])
                index &+= 1
            case .chunkDataCR:
                guard input[index] == ASCII.cr else { throw .bad("chunk data not followed by CRLF") }
                state = .chunkDataLF
                index &+= 1
            case .chunkDataLF:
                guard input[index] == ASCII.lf else { throw .bad("chunk data not followed by CRLF") }
                state = .chunkSize
                index &+= 1
            case .trailerLineStart, .trailerName, .trailerValue, .trailerLF, .finalLF:
                try trailerSection(input[index])
                index &+= 1
            }
        }
        return index
    }

    /// One byte of a chunk-size line: 1*HEXDIG [ *WSP ";" extensions ] CRLF.
    private mutating func chunkSizeLine(_ byte: UInt8) throws(HTTPParseError) {
        if state == .chunkSizeLF {
            guard byte == ASCII.lf else { throw .bad("bare CR in chunk size line") }
            try finishChunkSizeLine()
            return
        }
        if byte != ASCII.cr {
            chunkLineBytes &+= 1
            if chunkLineBytes > maxChunkLineBytes { throw .bad("chunk size line too long") }
        }
        switch state {
        case .chunkSize:
            if let digit = ASCII.hexValue(byte) {
                guard chunkSize <= (Int.max &- digit) >> 4 else { throw .bad("chunk size overflows") }
                chunkSize = chunkSize &<< 4 | digit
                chunkDigits &+= 1
            } else if chunkDigits == 0 {
                throw .bad("invalid chunk size")
            } else if byte == ASCII.cr {
                state = .chunkSizeLF
            } else if byte == ASCII.lf {
                throw .bad("bare LF as a line ending")
            } else if byte == ASCII.semicolon {
                state = .chunkExtension
            } else if ASCII.isWhitespace(byte) {
                state = .chunkSizeWhitespace
            } else {
                throw .bad("invalid chunk size")
            }
        case .chunkSizeWhitespace:
            if byte == ASCII.semicolon {
                state = .chunkExtension
            } else if !ASCII.isWhitespace(byte) {
                throw .bad(byte == ASCII.cr ? "whitespace after chunk size" : "invalid chunk size")
            }
        default:
            // Extensions are ignored, but a line break or control inside one would let parsers disagree on where
            // the line ends.
            if byte == ASCII.cr {
                state = .chunkSizeLF
            } else if ASCII.isForbiddenInFieldValue(byte) {
                throw .bad(byte == ASCII.lf ? "bare LF as a line ending" : "control character in chunk extension")
            }
        }
    }

    private mutating func finishChunkSizeLine() throws(HTTPParseError) {
        let size = chunkSize
        chunkSize = 0
        chunkDigits = 0
        chunkLineBytes = 0
        if size == 0 {
            state = .trailerLineStart
            return
        }
        guard size <= maxBodyBytes &- chunkedTotal else {
            throw HTTPParseError(.bodyTooLarge, "chunked body too large")
        }
        chunkedTotal &+= size
        remaining = size
        state = .chunkData
    }

    /// One byte of the trailer section after the last chunk: *( field-line CRLF ) CRLF.
    private mutating func trailerSection(_ byte: UInt8) throws(HTTPParseError) {
        trailerBytes &+= 1
        if trailerBytes > maxTrailerBytes { throw HTTPParseError(.headersTooLarge, "trailer section too large") }
        switch state {
        case .trailerLineStart:
            if byte == ASCII.cr {
                state = .finalLF
            } else if ASCII.isTokenChar(byte) {
                state = .trailerName
            } else if byte == ASCII.colon {
                throw .bad("empty field name")
            } else {
                throw HeaderFieldParser.fieldNameError(byte, atLineStart: true)
            }
        case .trailerName:
            if byte == ASCII.colon {
                state = .trailerValue
            } else if !ASCII.isTokenChar(byte) {
                throw HeaderFieldParser.fieldNameError(byte, atLineStart: false)
            }
        case .trailerValue:
            if byte == ASCII.cr {
                state = .trailerLF
            } else if ASCII.isForbiddenInFieldValue(byte) {
                throw .bad(byte == ASCII.lf ? "bare LF as a line ending" : "control character in field value")
            }
        case .trailerLF:
            guard byte == ASCII.lf else { throw .bad("bare CR in trailer") }
            state = .trailerLineStart
        default:
            guard byte == ASCII.lf else { throw .bad("bare CR in trailer") }
            state = .done
        }
    }
}
