/// The start line and header fields of a request.
public struct HTTPRequestHead: Sendable {
    public var method: String
    /// The request-target exactly as received (origin-form "/v1/chat?x=1", absolute-form, authority-form or "*").
    public var target: String
    public var version: HTTPVersion
    public var headers: HTTPHeaders

    public init(method: String, target: String, version: HTTPVersion = .http1_1, headers: HTTPHeaders = [:]) {
        self.method = method
        self.target = target
        self.version = version
        self.headers = headers
    }

    /// The target up to (not including) the first '?'; the whole target when there is no query.
    public var path: Substring {
        if let question = target.utf8.firstIndex(of: UInt8(ascii: "?")) {
            return target[..<question]
        }
        return target[...]
    }

    /// Whether the client allows the connection to stay open after this exchange: HTTP/1.1 unless a Connection field
    /// lists "close"; HTTP/1.0 only when it lists "keep-alive" (and not "close").
    public var keepAlive: Bool { KeepAlive.allows(version: version, headers: headers) }

    /// Appends "METHOD target HTTP/x.y\r\n", the fields and the empty line. The head's own version is written (set
    /// `version` to `.http1_1` before forwarding upstream). Bytes that would break the request line are
    /// percent-encoded: non-token bytes of the method, SP and controls in the target. Fields are written by
    /// `HTTPHeaders.write(into:)`.
    public func write(into buffer: inout [UInt8]) {
        HeadWriter.append(to: &buffer, bound: writeBound) { writer in
            write(into: &writer, version: version, skipping: { _ in false }, adding: { _ in })
        }
    }

    /// The most bytes `write(into:)` writes for this head.
    public var writeBound: Int {
        StartLineWriter.writeBound(method) &+ StartLineWriter.writeBound(target) &+ version.writeBound &+ 4
            &+ headers.writeBound &+ 2
    }

    /// The bytes `write(into:)` would write after removing the fields whose name `skip` answers
    /// true for and then adding, at the end, the fields `addFields` writes (with
    /// `HeadWriter.appendField`), with `targetPrefix` before the target and `version` for the
    /// head's own: a head rewritten for the next hop without editing a copy of it. `writer` must
    /// have room for `writeBound`, `version.writeBound`, three bytes per byte of `targetPrefix`,
    /// and what `addFields` writes.
    public func write(into writer: inout HeadWriter, version: HTTPVersion, targetPrefix: String = "",
                      skipping skip: (HTTPFieldNameView) -> Bool, adding addFields: (inout HeadWriter) -> Void) {
        StartLineWriter.writeMethod(method, into: &writer)
        writer.append(ASCII.space)
        if !targetPrefix.isEmpty { StartLineWriter.writeTarget(targetPrefix, into: &writer) }
        StartLineWriter.writeTarget(target, into: &writer)
        writer.append(ASCII.space)
        version.write(into: &writer)
        writer.append(ASCII.cr, ASCII.lf)
        headers.write(into: &writer, skipping: skip)
        addFields(&writer)
        writer.append(ASCII.cr, ASCII.lf)
    }
}
