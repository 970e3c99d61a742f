import SluiceFilterAPI

/// A request to `GET {resume_path}/ID`: the stream id and the id of the last event the client has,
/// from the `Last-Event-ID` header (what browsers' `EventSource` sends) or, for clients that cannot
/// set headers, the `last_event_id` query parameter. A value; any thread.
struct ResumeRequest: Equatable {
    /// The stream id as written in the path (not checked here).
    var streamID: Substring
    /// The last event the client has; nil (no id, or an empty one): from the start.
    var lastEventID: String?

    /// What a request to the resume path can be.
    enum Parsed: Equatable {
        /// Not a resume: the path is not under the resume path.
        case notResume
        case resume(ResumeRequest)
        /// A resume that cannot be answered, with why (400).
        case malformed(String)
    }

    /// Reads `head` as a resume under `prefix` (the resume path followed by `/`).
    static func parse(_ head: HTTPRequestHead, prefix: String) -> Parsed {
        let path = head.path
        guard path.hasPrefix(prefix) else { return .notResume }
        let id = path.dropFirst(prefix.count)
        var request = ResumeRequest(streamID: id, lastEventID: head.headers["last-event-id"])
        if request.lastEventID == nil, let query = head.target.split(separator: "?", maxSplits: 1).dropFirst().first {
            for pair in query.split(separator: "&") {
                let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                guard parts[0] == "last_event_id" else { continue }
                guard let value = Self.percentDecoded(parts.count > 1 ? parts[1] : "") else {
                    return .malformed("the last_event_id parameter is not valid percent-encoded UTF-8")
                }
                request.lastEventID = value
            }
        }
        // An empty id is what an SSE client has before its first event: from the start.
        if request.lastEventID?.isEmpty == true { request.lastEventID = nil }
        return .resume(request)
    }

    /// `%XX` escapes and `+` (a space) decoded; nil for a broken escape or bytes that are not UTF-8.
    static func percentDecoded(_ text: Substring) -> String? {
        var out: [UInt8] = []
        var bytes = text.utf8.makeIterator()
        while let byte = bytes.next() {
            switch byte {
            case UInt8(ascii: "+"):
                out.append(UInt8(ascii: " "))
            case UInt8(ascii: "%"):
                guard let high = bytes.next().flatMap(Self.hexDigit), let low = bytes.next().flatMap(Self.hexDigit) else { return nil }
                out.append(high &* 16 &+ low)
            default:
                out.append(byte)
            }
        }
        return String(validating: out, as: UTF8.self)
    }

    private static func hexDigit(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}
