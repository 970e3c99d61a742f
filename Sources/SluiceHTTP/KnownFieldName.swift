/// The field names the proxy itself reads, drops or replaces on every exchange: framing, hop-by-hop, forwarding and
/// request-id fields, and Content-Type.
///
/// `HTTPHeaders` recognises them once, when a field is stored, and keeps the answer with the field; a lookup or a
/// skip by one of these names then compares a small number per field instead of the name's bytes. A name is
/// recognised exactly when it equals the case's `name` ignoring the case of ASCII letters (as `HTTPHeaders` compares
/// names), so a lookup by id finds the same fields as a lookup by bytes.
public enum KnownFieldName: UInt8, Sendable, CaseIterable {
    case host = 1
    case contentLength
    case transferEncoding
    case contentType
    case connection
    case keepAlive
    case proxyConnection
    case te
    case trailer
    case upgrade
    case proxyAuthorization
    case proxyAuthenticate
    case proxyAuthenticationInfo
    case expect
    case xForwardedFor
    case xForwardedHost
    case xForwardedProto
    case xRequestID

    /// The name, lowercased.
    public var name: StaticString {
        switch self {
        case .host: "host"
        case .contentLength: "content-length"
        case .transferEncoding: "transfer-encoding"
        case .contentType: "content-type"
        case .connection: "connection"
        case .keepAlive: "keep-alive"
        case .proxyConnection: "proxy-connection"
        case .te: "te"
        case .trailer: "trailer"
        case .upgrade: "upgrade"
        case .proxyAuthorization: "proxy-authorization"
        case .proxyAuthenticate: "proxy-authenticate"
        case .proxyAuthenticationInfo: "proxy-authentication-info"
        case .expect: "expect"
        case .xForwardedFor: "x-forwarded-for"
        case .xForwardedHost: "x-forwarded-host"
        case .xForwardedProto: "x-forwarded-proto"
        case .xRequestID: "x-request-id"
        }
    }

    /// This name's bit in a `KnownFieldName` mask (`HTTPFieldNameSet`).
    @inline(__always)
    var bit: UInt32 { 1 << UInt32(rawValue) }

    /// The known name `bytes` spells, in any case of its ASCII letters; nil for every other name.
    /// The length settles most names; for a length two names share, the first that fails to match
    /// fails on its first word.
    public init?(_ bytes: UnsafeRawBufferPointer) {
        // Each literal is spelled inline so that its words fold into constants.
        switch bytes.count {
        case 2: if Self.spells(bytes, "te") { self = .te; return }
        case 4: if Self.spells(bytes, "host") { self = .host; return }
        case 6: if Self.spells(bytes, "expect") { self = .expect; return }
        case 7:
            if Self.spells(bytes, "trailer") { self = .trailer; return }
            if Self.spells(bytes, "upgrade") { self = .upgrade; return }
        case 10:
            if Self.spells(bytes, "connection") { self = .connection; return }
            if Self.spells(bytes, "keep-alive") { self = .keepAlive; return }
        case 12:
            if Self.spells(bytes, "content-type") { self = .contentType; return }
            if Self.spells(bytes, "x-request-id") { self = .xRequestID; return }
        case 14: if Self.spells(bytes, "content-length") { self = .contentLength; return }
        case 15: if Self.spells(bytes, "x-forwarded-for") { self = .xForwardedFor; return }
        case 16:
            if Self.spells(bytes, "proxy-connection") { self = .proxyConnection; return }
            if Self.spells(bytes, "x-forwarded-host") { self = .xForwardedHost; return }
        case 17:
            if Self.spells(bytes, "transfer-encoding") { self = .transferEncoding; return }
            if Self.spells(bytes, "x-forwarded-proto") { self = .xForwardedProto; return }
        case 18: if Self.spells(bytes, "proxy-authenticate") { self = .proxyAuthenticate; return }
        case 19: if Self.spells(bytes, "proxy-authorization") { self = .proxyAuthorization; return }
        case 25: if Self.spells(bytes, "proxy-authentication-info") { self = .proxyAuthenticationInfo; return }
        default: break
        }
        return nil
    }

    /// Whether `bytes` equals `lowercase` (lowercase letters and '-' only, at least two bytes, as
    /// long as `bytes`) ignoring the case of ASCII letters. A word at a time, the last one
    /// overlapping the one before, each compared with the case bit (0x20) forced on only in the
    /// literal's letter lanes (lowercase letters have 0x40 set, '-' does not), so that no other
    /// byte can pass for a letter or a '-'.
    @inline(__always)
    private static func spells(_ bytes: UnsafeRawBufferPointer, _ lowercase: StaticString) -> Bool {
        let literal = UnsafeRawBufferPointer(start: lowercase.utf8Start, count: lowercase.utf8CodeUnitCount)
        let count = literal.count
        if count < 4 {
            return wordMatches(bytes, literal, at: 0, as: UInt16.self) && wordMatches(bytes, literal, at: count &- 2, as: UInt16.self)
        }
        if count < 8 {
            return wordMatches(bytes, literal, at: 0, as: UInt32.self) && wordMatches(bytes, literal, at: count &- 4, as: UInt32.self)
        }
        var offset = 0
        while offset &+ 8 < count {
            guard wordMatches(bytes, literal, at: offset, as: UInt64.self) else { return false }
            offset &+= 8
        }
        return wordMatches(bytes, literal, at: count &- 8, as: UInt64.self)
    }

    @inline(__always)
    private static func wordMatches<Word: FixedWidthInteger & UnsignedInteger>(
        _ bytes: UnsafeRawBufferPointer, _ literal: UnsafeRawBufferPointer, at offset: Int, as: Word.Type
    ) -> Bool {
        let word = bytes.loadUnaligned(fromByteOffset: offset, as: Word.self)
        let wanted = literal.loadUnaligned(fromByteOffset: offset, as: Word.self)
        let caseBits = (wanted & (Word.max / 0xFF &* 0x40)) >> 1
        return word | caseBits == wanted
    }
}
