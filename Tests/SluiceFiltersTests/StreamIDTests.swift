import SluiceFilters
import Testing

/// Stream ids and the credential digests streams are bound to.
struct StreamIDTests {
    @Test func streamIDsAre128RandomBitsInHex() {
        let ids = (0..<1_000).map { _ in StreamID.make() }
        #expect(Set(ids).count == ids.count)
        #expect(ids.allSatisfy(StreamID.isWellFormed))
        #expect(!StreamID.isWellFormed("0123456789ABCDEF0123456789ABCDEF"))
        #expect(!StreamID.isWellFormed("0123456789abcdef"))
    }

    @Test func credentialDigestsTellCredentialsApart() {
        #expect(CredentialDigest(of: "Bearer alice") == CredentialDigest(of: "Bearer alice"))
        #expect(CredentialDigest(of: "Bearer alice") != CredentialDigest(of: "Bearer alicf"))
        #expect(CredentialDigest(of: "") != CredentialDigest(of: "Bearer alice"))
    }
}
