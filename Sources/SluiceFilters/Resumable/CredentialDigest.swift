/// What binds a kept stream to the client that started it: a 128-bit keyed hash of its credential
/// (the `Authorization` header, or what the filter's `key` names), never the credential itself, so
/// nothing secret is kept with the events. Compared in constant time. A value; any thread.
///
/// The hash is Swift's SipHash, seeded at random per process, run twice under two domain
/// prefixes: the same credential maps to the same digest for the life of the process, and to
/// nothing an outsider can compute. A store shared by several instances (Redis) needs a digest all
/// of them agree on instead: `SharedStore.clientKeyHash`, HMAC-SHA-256 under the deployment's
/// `key_secret`.
public struct CredentialDigest: Sendable, Equatable {
    private let high: UInt64
    private let low: UInt64

    /// The digest of `credential` (an empty string for a client that sent none).
    public init(of credential: String) {
        high = Self.hash(credential, domain: 0x5e)
        low = Self.hash(credential, domain: 0xa1)
    }

    private static func hash(_ credential: String, domain: UInt8) -> UInt64 {
        var hasher = Hasher()
        hasher.combine(domain)
        hasher.combine(credential)
        return UInt64(bitPattern: Int64(hasher.finalize()))
    }

    /// Equal digests, compared without an early exit.
    public static func == (a: CredentialDigest, b: CredentialDigest) -> Bool {
        ((a.high ^ b.high) | (a.low ^ b.low)) == 0
    }
}
