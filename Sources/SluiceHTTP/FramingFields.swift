/// The fields that decide where a message ends (Content-Length, Transfer-Encoding) and Host, gathered while a head's
/// field lines are parsed so that no second pass over the headers is needed. `FramingRules` turns them into a
/// `BodyFraming`.
struct FramingFields {
    /// The agreed Content-Length, when any Content-Length field was present.
    private(set) var contentLength: Int?
    /// True when the Content-Length fields must be rewritten as one (repeats or a list like "5, 5").
    private(set) var contentLengthNeedsCollapse = false
    private(set) var hasTransferEncoding = false
    /// Number of transfer codings listed across all Transfer-Encoding fields.
    private(set) var codingCount = 0
    private(set) var chunkedCount = 0
    private(set) var lastCodingIsChunked = false
    private(set) var hasOtherCoding = false
    private(set) var hostCount = 0

    /// Looks at one parsed field. Throws 400 at once for a Content-Length that is not a list of identical decimal
    /// numbers and for a Transfer-Encoding element that is not a token; the combination rules wait for
    /// `FramingRules`, which sees the whole head.
    /// `name` is the known name the field's name spells (`KnownFieldName`), nil for any other.
    mutating func observe(name: KnownFieldName?, value: UnsafeRawBufferPointer) throws(HTTPParseError) {
        switch name {
        case .host:
            hostCount &+= 1
        case .contentLength:
            try observeContentLength(value)
        case .transferEncoding:
            try observeTransferEncoding(value)
        default:
            break
        }
    }

    private mutating func observeContentLength(_ value: UnsafeRawBufferPointer) throws(HTTPParseError) {
        if contentLength != nil { contentLengthNeedsCollapse = true }
        // The usual value is one number, the list of one element it is read as below: read without
        // splitting it. Anything else (a list, a sign, an overflow) takes the list's way.
        if let length = Self.decimal(value) {
            if let agreed = contentLength {
                guard agreed == length else { throw .bad("conflicting Content-Length values") }
                contentLengthNeedsCollapse = true
            }
            contentLength = length
            return
        }
        var failure: HTTPParseError?
        HTTPListSyntax.forEachElement(in: value) { element in
            guard let length = Self.decimal(element) else {
                failure = .bad("invalid Content-Length")
                return false
            }
            if let agreed = contentLength {
                guard agreed == length else {
                    failure = .bad("conflicting Content-Length values")
                    return false
                }
                contentLengthNeedsCollapse = true
            }
            contentLength = length
            return true
        }
        if let failure { throw failure }
    }

    private mutating func observeTransferEncoding(_ value: UnsafeRawBufferPointer) throws(HTTPParseError) {
        hasTransferEncoding = true
        var malformed = false
        let codingsBefore = codingCount
        HTTPListSyntax.forEachElement(in: value) { element in
            // Empty list elements are allowed by RFC 9110 section 5.6.1 and carry no coding.
            guard !element.isEmpty else { return true }
            guard element.allSatisfy(ASCII.isTokenChar) else {
                malformed = true
                return false
            }
            codingCount &+= 1
            lastCodingIsChunked = ASCIICaseInsensitive.equals(element, lowercaseLiteral: "chunked")
            if lastCodingIsChunked { chunkedCount &+= 1 } else { hasOtherCoding = true }
            return true
        }
        if malformed { throw .bad("malformed Transfer-Encoding") }
        // A Transfer-Encoding line that names no coding is harmless to a list parser but is read as "no
        // framing" by hops that take one line alone: refused even when another line says chunked.
        if codingCount == codingsBefore { throw .bad("Transfer-Encoding without a coding") }
    }

    /// The value of 1*DIGIT, or nil for anything else (empty, sign, inner space, hex) or a value that overflows.
    private static func decimal(_ bytes: UnsafeRawBufferPointer) -> Int? {
        guard !bytes.isEmpty else { return nil }
        var value = 0
        for byte in bytes {
            guard ASCII.isDigit(byte) else { return nil }
            let (shifted, overflowA) = value.multipliedReportingOverflow(by: 10)
            let (sum, overflowB) = shifted.addingReportingOverflow(Int(byte &- ASCII.zero))
            if overflowA || overflowB { return nil }
            value = sum
        }
        return value
    }
}
