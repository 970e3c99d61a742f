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
        let bytes = headBytes(head, requestMethod: requestMethod, clientVersion: clientVersion,
                              clientKeepAlive: clientKeepAlive, passContentLength: passContentLength)
        sent(bytes, to: socket)
    }

    /// An upstream's head passed on with the filters' `added` fields (each name replacing the
    /// upstream's fields of that name, in their order) and `x-request-id` last: byte for byte what
    /// applying them to a copy of the head and `writeHead` write, without the copy or its edits
    /// (per response, they cost about a thousand instructions per added field). Answers false,
    /// having written nothing, when an added name is one the framing or hop-by-hop rules decide
    /// (or one the upstream's Connection names): the caller takes the general path then.
    mutating func writePassedOnHead(_ head: HTTPResponseHead, added: [(String, String)], requestID: String,
                                    requestMethod: String, clientVersion: HTTPVersion, clientKeepAlive: Bool,
                                    passContentLength: Bool, to socket: BufferEvent) -> Bool {
        // Written from memory that lives only for the call, straight into the socket's buffer.
        let written = withPassedOnHead(head, added: added, requestID: requestID, requestMethod: requestMethod,
                                       clientVersion: clientVersion, clientKeepAlive: clientKeepAlive,
                                       passContentLength: passContentLength) { bytes in
            socket.write(bytes)
            return bytes.count
        }
        guard let written else { return false }
        recordSent(written)
        return true
    }

    /// The bytes of `writeHead`; sets the framing and whether the connection stays.
    mutating func headBytes(_ head: HTTPResponseHead, requestMethod: String, clientVersion: HTTPVersion,
                            clientKeepAlive: Bool, passContentLength: Bool) -> [UInt8] {
        var head = head
        HeaderRewriter.removeHopByHop(&head.headers)
        let declared = head.headers.integerValue(.contentLength)
        let (keepLength, keep) = chooseFraming(declared: declared, status: head.status, requestMethod: requestMethod,
                                               clientVersion: clientVersion, clientKeepAlive: clientKeepAlive,
                                               passContentLength: passContentLength)
        if !keepLength { head.headers.remove(.contentLength) }
        if framing == .chunked { head.headers.set("transfer-encoding", "chunked") }
        head.version = .http1_1
        if !keep {
            head.headers.set("connection", "close")
        } else if clientVersion == .http1_0 {
            head.headers.set("connection", "keep-alive")
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(256)
        head.write(into: &bytes)
        return bytes
    }

    /// The bytes of `writePassedOnHead`, or nil for the heads it leaves to the general path.
    mutating func passedOnHeadBytes(_ head: HTTPResponseHead, added: [(String, String)], requestID: String,
                                    requestMethod: String, clientVersion: HTTPVersion, clientKeepAlive: Bool,
                                    passContentLength: Bool) -> [UInt8]? {
        withPassedOnHead(head, added: added, requestID: requestID, requestMethod: requestMethod, clientVersion: clientVersion,
                         clientKeepAlive: clientKeepAlive, passContentLength: passContentLength) { Array($0) }
    }

    /// Calls `use` with the bytes of `writePassedOnHead`, in memory that lives only during the
    /// call; nil, without calling it, for the heads it leaves to the general path.
    private mutating func withPassedOnHead<Result>(
        _ head: HTTPResponseHead, added: [(String, String)], requestID: String, requestMethod: String,
        clientVersion: HTTPVersion, clientKeepAlive: Bool, passContentLength: Bool, _ use: (UnsafeRawBufferPointer) -> Result
    ) -> Result? {
        // The added fields' room, and one bit per length of their names (63 for any longer): most
        // of the head's fields have a length none has, which settles them without comparing names.
        // One pass over the added fields, which also refuses the names the general path settles.
        var addedBound = 0
        var addedLengths: UInt64 = 0
        for (name, value) in added {
            if Self.ruled(name) { return nil }
            addedBound += HeadWriter.fieldBound(name, value)
            addedLengths |= 1 << UInt64(min(name.utf8.count, 63))
        }
        // Fields the upstream's Connection names are hop-by-hop too: left out, unless the name is
        // one the framing decides or a filter adds (the general path then settles it).
        var named: HTTPFieldNameSet?
        if head.headers.contains(.connection) {
            let names = HeaderRewriter.connectionNamed(head.headers)
            for name in names where name == "content-length" || name == "x-request-id" { return nil }
            for (name, _) in added where names.contains(where: { HTTPHeaders.sameName($0, name) }) { return nil }
            if !names.isEmpty { named = HTTPFieldNameSet(names) }
        }
        let declared = head.headers.integerValue(.contentLength)
        let (keepLength, keep) = chooseFraming(declared: declared, status: head.status, requestMethod: requestMethod,
                                               clientVersion: clientVersion, clientKeepAlive: clientKeepAlive,
                                               passContentLength: passContentLength)
        let dropped = keepLength ? Self.droppedKeepingLength : Self.droppedWithLength
        // The status line, the upstream's fields, the added ones, and the proxy's: `transfer-encoding:
        // chunked` and `connection: keep-alive` are the longest it writes, 28 and 24 bytes.
        let bound = head.statusLineBound + 8 + head.headers.writeBound + addedBound + 12 + 4 + requestID.utf8.count
            + 28 + 24 + 2
        let keepsAlive1_0 = keep && clientVersion == .http1_0
        let framing = framing
        return HeadWriter.withBytes(bound: bound, { writer in
            head.writeStatusLine(as: .http1_1, into: &writer)
            head.headers.write(into: &writer, skipping: { name in
                dropped.contains(name) || named?.contains(name) == true
                    || (addedLengths >> UInt64(min(name.bytes.count, 63)) & 1 != 0 && Self.isOne(of: added, name.bytes))
            })
            for (name, value) in added { writer.appendField(name, value) }
            writer.appendField(known: "x-request-id", requestID)
            if framing == .chunked { writer.appendField(known: "transfer-encoding", "chunked") }
            if !keep {
                writer.appendField(known: "connection", "close")
            } else if keepsAlive1_0 {
                writer.appendField(known: "connection", "keep-alive")
            }
            writer.appendEmptyLine()
        }, use)
    }

    /// The upstream's fields a passed-on head leaves out: the hop-by-hop ones and the request id
    /// (the proxy writes its own), and Content-Length when the framing drops it.
    private static let droppedKeepingLength = HTTPFieldNameSet(HeaderRewriter.hopByHop + ["x-request-id"])
    private static let droppedWithLength = HTTPFieldNameSet(HeaderRewriter.hopByHop + ["x-request-id", "content-length"])

    /// `name` (a field's bytes) is one of the `added` fields' names, ignoring ASCII case. A filter
    /// adds a handful: compared in place, where a name set cost an allocation and a lowercased copy
    /// of each name per response.
    private static func isOne(of added: [(String, String)], _ name: UnsafeRawBufferPointer) -> Bool {
        // Lengths first: most of a head's fields differ from every added name in length.
        added.contains { $0.0.utf8.count == name.count && HTTPHeaders.sameName(name, $0.0) }
    }

    /// A name whose field the general path treats by rule, not as a plain replacement.
    @inline(__always)
    private static func ruled(_ name: String) -> Bool {
        // Read in place (a native String always allows it), without the copy `withUTF8` makes first.
        if let ruled = name.utf8.withContiguousStorageIfAvailable({ droppedWithLength.contains(UnsafeRawBufferPointer($0)) }) {
            return ruled
        }
        var name = name
        return name.withUTF8 { droppedWithLength.contains(UnsafeRawBufferPointer($0)) }
    }

    /// Chooses the body's framing for a response with `declared` Content-Length; answers whether
    /// that Content-Length is written and whether the connection stays.
    private mutating func chooseFraming(declared: Int?, status: Int, requestMethod: String, clientVersion: HTTPVersion,
                                        clientKeepAlive: Bool, passContentLength: Bool) -> (keepLength: Bool, keep: Bool) {
        let bodyless = requestMethod == "HEAD" || status == 204 || status == 304 || (100..<200).contains(status)
        var keep = clientKeepAlive
        let keepLength: Bool
        if bodyless {
            framing = .none
            // A HEAD answer keeps the upstream's Content-Length, as information.
            keepLength = requestMethod == "HEAD"
        } else if let declared, passContentLength {
            framing = .contentLength(remaining: declared)
            keepLength = true
        } else if clientVersion == .http1_1 {
            framing = .chunked
            keepLength = false
        } else {
            framing = .closeDelimited
            keepLength = false
            keep = false
        }
        keepAlive = keep
        return (keepLength, keep)
    }

    private mutating func sent(_ bytes: [UInt8], to socket: BufferEvent) {
        socket.write(bytes)
        recordSent(bytes.count)
    }

    /// A head of `count` bytes was written.
    private mutating func recordSent(_ count: Int) {
        bytesWritten += count
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
