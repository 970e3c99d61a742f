import SluiceIO

/// A Lua script run with EVALSHA by its SHA-1, and sent whole with EVAL only when the server does
/// not know it yet (after a restart or a SCRIPT FLUSH). Immutable; any thread.
public struct RedisScript: Sendable {
    /// The Lua source.
    public let source: String
    /// Its SHA-1 in hex, the name EVALSHA uses.
    public let sha1: String

    public init(_ source: String) {
        self.source = source
        self.sha1 = Digest.sha1Hex(Array(source.utf8))
    }
}
