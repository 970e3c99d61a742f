/// The status line and header fields of a response.
public struct HTTPResponseHead: Sendable, Equatable {
    public var version: HTTPVersion
    public var status: Int
    /// The reason phrase as received or chosen; informational only (clients must not depend on it).
    public var reason: String
    public var headers: HTTPHeaders

    /// A nil `reason` means the standard phrase for `status` (see `standardReason(_:)`).
    public init(status: Int, reason: String? = nil, version: HTTPVersion = .http1_1, headers: HTTPHeaders = [:]) {
        self.version = version
        self.status = status
        self.reason = reason ?? Self.standardReason(status)
        self.headers = headers
    }

    /// Whether the server allows the connection to stay open, judged by version and Connection fields only. A
    /// close-delimited body (`BodyFraming.closeDelimited`) also ends the connection; check the parser's framing too.
    public var keepAlive: Bool { KeepAlive.allows(version: version, headers: headers) }

    /// Appends "HTTP/x.y status reason\r\n", the fields and the empty line. CR, LF and NUL in the reason become SP.
    /// A status outside 100...999 is written as given; callers must not produce one.
    public func write(into buffer: inout [UInt8]) {
        HeadWriter.append(to: &buffer, bound: statusLineBound &+ headers.writeBound &+ 2) { writer in
            writeStatusLine(into: &writer)
            headers.write(into: &writer)
            writer.append(ASCII.cr, ASCII.lf)
        }
    }

    /// Appends "HTTP/x.y status reason\r\n" alone (as `write(into:)` writes it).
    public func writeStatusLine(into buffer: inout [UInt8]) {
        HeadWriter.append(to: &buffer, bound: statusLineBound) { writeStatusLine(into: &$0) }
    }

    /// The most bytes `writeStatusLine` writes.
    public var statusLineBound: Int {
        version.writeBound &+ ((100...999).contains(status) ? 3 : String(status).utf8.count) &+ reason.utf8.count &+ 4
    }

    /// Appends "HTTP/x.y status reason\r\n" alone; `writer` must have room for `statusLineBound`.
    public func writeStatusLine(into writer: inout HeadWriter) {
        writeStatusLine(as: version, into: &writer)
    }

    /// `writeStatusLine(into:)` with `version` written instead of the head's own (a head passed on
    /// as HTTP/1.1); `writer` must have room for `statusLineBound` and `version.writeBound`.
    public func writeStatusLine(as version: HTTPVersion, into writer: inout HeadWriter) {
        version.write(into: &writer)
        writer.append(ASCII.space)
        if (100...999).contains(status) {
            writer.append(ASCII.zero + UInt8(status / 100))
            writer.append(ASCII.zero + UInt8(status / 10 % 10), ASCII.zero + UInt8(status % 10))
        } else {
            writer.append(String(status))
        }
        writer.append(ASCII.space)
        StartLineWriter.writeReason(reason, into: &writer)
        writer.append(ASCII.cr, ASCII.lf)
    }

    /// The RFC 9110 reason phrase for `status` (plus 429 and 431 from RFC 6585); "" for codes without one.
    public static func standardReason(_ status: Int) -> String {
        switch status {
        case 100: "Continue"
        case 101: "Switching Protocols"
        case 103: "Early Hints"
        case 200: "OK"
        case 201: "Created"
        case 202: "Accepted"
        case 203: "Non-Authoritative Information"
        case 204: "No Content"
        case 205: "Reset Content"
        case 206: "Partial Content"
        case 300: "Multiple Choices"
        case 301: "Moved Permanently"
        case 302: "Found"
        case 303: "See Other"
        case 304: "Not Modified"
        case 307: "Temporary Redirect"
        case 308: "Permanent Redirect"
        case 400: "Bad Request"
        case 401: "Unauthorized"
        case 402: "Payment Required"
        case 403: "Forbidden"
        case 404: "Not Found"
        case 405: "Method Not Allowed"
        case 406: "Not Acceptable"
        case 407: "Proxy Authentication Required"
        case 408: "Request Timeout"
        case 409: "Conflict"
        case 410: "Gone"
        case 411: "Length Required"
        case 412: "Precondition Failed"
        case 413: "Content Too Large"
        case 414: "URI Too Long"
        case 415: "Unsupported Media Type"
        case 416: "Range Not Satisfiable"
        case 417: "Expectation Failed"
        case 421: "Misdirected Request"
        case 422: "Unprocessable Content"
        case 426: "Upgrade Required"
        case 428: "Precondition Required"
        case 429: "Too Many Requests"
        case 431: "Request Header Fields Too Large"
        case 500: "Internal Server Error"
        case 501: "Not Implemented"
        case 502: "Bad Gateway"
        case 503: "Service Unavailable"
        case 504: "Gateway Timeout"
        case 505: "HTTP Version Not Supported"
        default: ""
        }
    }
}
