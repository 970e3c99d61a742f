import SluiceHTTP
import SluiceIO

/// Frames one response for the client: Content-Length passed through, chunked, or close-delimited
/// for HTTP/1.0 clients. Knows whether what was written so far could pass for a complete message, so
/// a cut stream is never ended cleanly. Loop thread only.
struct ClientResponseWriter {
    enum Framing: Equatable {
        case none
        case contentLength(remaining: Int)
        case chunked
        case closeDelimited
    }

    private(set) var framing: Framing = .none
    private(set) var headWritten = false
    private(set) var finished = false
    /// The connection can carry another request after this response.
    private(set) var keepAlive = false
    private(set) var bytesWritten = 0

    /// Writes the head, choosing the body framing. `passContentLength` keeps the upstream's
    /// Content-Length when no filter may change the body's size.
    mutating func writeHead(_ head: HTTPResponseHead, requestMethod: String, clientVersion: HTTPVersion,
                            clientKeepAlive: Bool, passContentLength: Bool, to socket: BufferEvent) {
        var head = head
        HeaderRewriter.removeHopByHop(&head.headers)
        let declared = head.headers.integerValue("content-length")
        let bodyless = requestMethod == "HEAD" || head.status == 204 || head.status == 304 || (100..<200).contains(head.status)
        var keep = clientKeepAlive
        if bodyless {
            framing = .none
            if requestMethod == "HEAD" { /* keep the upstream's Content-Length as information */ } else { head.headers.remove("content-length") }
        } else if let declared, passContentLength {
            framing = .contentLength(remaining: declared)
        } else if clientVersion == .http1_1 {
            head.headers.remove("content-length")
            head.headers.set("transfer-encoding", "chunked")
            framing = .chunked
        } else {
            head.headers.remove("content-length")
            framing = .closeDelimited
            keep = false
        }
        keepAlive = keep
        head.version = .http1_1
        if !keep {
            head.headers.set("connection", "close")
        } else if clientVersion == .http1_0 {
            head.headers.set("connection", "keep-alive")
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(256)
        head.write(into: &bytes)
        socket.write(bytes)
        bytesWritten += bytes.count
        headWritten = true
        if framing == .none || framing == .contentLength(remaining: 0) { finished = true }
    }

    /// Writes body bytes in the chosen framing.
    mutating func writeBody(_ payload: UnsafeRawBufferPointer, to socket: BufferEvent) {
        guard !payload.isEmpty, !finished else { return }
        switch framing {
        case .none:
            return
        case .contentLength(let remaining):
            let n = min(remaining, payload.count)
            socket.write(UnsafeRawBufferPointer(rebasing: payload[0..<n]))
            framing = .contentLength(remaining: remaining - n)
            bytesWritten += n
            if remaining - n == 0 { finished = true }
        case .chunked:
            ChunkedEncoding.withChunkHeader(size: payload.count) { header in
                ChunkedEncoding.chunkTrailer.withUnsafeBytes { trailer in socket.write(header, payload, trailer) }
            }
            bytesWritten += payload.count
        case .closeDelimited:
            socket.write(payload)
            bytesWritten += payload.count
        }
    }

    mutating func writeBody(_ payload: [UInt8], to socket: BufferEvent) {
        payload.withUnsafeBytes { writeBody($0, to: socket) }
    }

    /// Ends the message properly. Returns false when the framing cannot end here (a Content-Length
    /// body that is short): the caller must then treat the stream as cut.
    mutating func finish(to socket: BufferEvent) -> Bool {
        if finished { return true }
        switch framing {
        case .none:
            finished = true
        case .contentLength(let remaining):
            if remaining > 0 { return false }
            finished = true
        case .chunked:
            socket.write(ChunkedEncoding.lastChunk)
            finished = true
        case .closeDelimited:
            finished = true
            keepAlive = false
        }
        return true
    }

    /// Whether an extra SSE error event can still be written inside the body.
    var canAppendEvent: Bool {
        switch framing {
        case .chunked, .closeDelimited: return !finished
        default: return false
        }
    }

    mutating func forceClose() { keepAlive = false }
}
