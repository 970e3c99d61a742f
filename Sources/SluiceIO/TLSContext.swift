import CLibevent

public struct TLSError: Error, CustomStringConvertible, Sendable {
    public var description: String
}

/// Owns one OpenSSL `SSL_CTX`. Immutable after creation and shared by every worker (OpenSSL
/// contexts are thread-safe once configured).
public final class TLSContext: @unchecked Sendable {
    let context: OpaquePointer
    public let verifyPeer: Bool

    private init(context: OpaquePointer, verifyPeer: Bool) {
        self.context = context
        self.verifyPeer = verifyPeer
    }

    deinit { SSL_CTX_free(context) }

    /// A server context presenting `certificatePath` (PEM chain) and `keyPath`.
    public static func server(certificatePath: String, keyPath: String) throws -> TLSContext {
        guard let ctx = SSL_CTX_new(TLS_server_method()) else { throw TLSError(description: "SSL_CTX_new failed") }
        sluice_ssl_ctx_min_tls12(ctx)
        if SSL_CTX_use_certificate_chain_file(ctx, certificatePath) != 1 {
            SSL_CTX_free(ctx)
            throw TLSError(description: "cannot load certificate \(certificatePath): \(lastError())")
        }
        if SSL_CTX_use_PrivateKey_file(ctx, keyPath, SSL_FILETYPE_PEM) != 1 || SSL_CTX_check_private_key(ctx) != 1 {
            SSL_CTX_free(ctx)
            throw TLSError(description: "cannot load key \(keyPath): \(lastError())")
        }
        return TLSContext(context: ctx, verifyPeer: false)
    }

    /// A client context. With `verify`, peers must present a chain to a trusted CA (the system's,
    /// or `caFile`) whose name matches the host (checked per connection).
    public static func client(verify: Bool, caFile: String?) throws -> TLSContext {
        guard let ctx = SSL_CTX_new(TLS_client_method()) else { throw TLSError(description: "SSL_CTX_new failed") }
        sluice_ssl_ctx_min_tls12(ctx)
        if verify {
            SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nil)
            if let caFile {
                if SSL_CTX_load_verify_locations(ctx, caFile, nil) != 1 {
                    SSL_CTX_free(ctx)
                    throw TLSError(description: "cannot load CA bundle \(caFile): \(lastError())")
                }
            } else if SSL_CTX_set_default_verify_paths(ctx) != 1 {
                SSL_CTX_free(ctx)
                throw TLSError(description: "cannot load the system CA store: \(lastError())")
            }
        } else {
            SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nil)
        }
        return TLSContext(context: ctx, verifyPeer: verify)
    }

    private static func lastError() -> String {
        var parts: [String] = []
        while let s = sluice_ssl_error_string() { parts.append(String(cString: s)) }
        return parts.isEmpty ? "unknown OpenSSL error" : parts.joined(separator: "; ")
    }
}
