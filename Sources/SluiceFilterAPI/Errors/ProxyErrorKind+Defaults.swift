extension ProxyError.Kind {
    /// The HTTP status for this kind unless the error says otherwise.
    ///
    /// | kinds | status |
    /// |---|---|
    /// | badRequest, unauthorized, forbidden, notFound, requestTooLarge | 400, 401, 403, 404, 413 |
    /// | rateLimited | 429 |
    /// | overloaded, queueTimeout, circuitOpen, noUpstream, maxAge, serverShutdown | 503 |
    /// | connectFailed, upstreamReset, upstreamProtocol, upstreamError | 502 |
    /// | connectTimeout, responseHeadTimeout, firstTokenTimeout, idleTimeout, totalTimeout | 504 |
    ///
    /// 503 says the proxy has no capacity or no upstream for the request right now, 502 that
    /// the upstream failed, 504 that it was too slow.
    /// | clientTimeout, slowClient | 408 |
    /// | clientClosed | 499 (nginx's "client closed request"; never sent, since nobody is there to read it) |
    /// | internalError | 500 |
    public var defaultStatus: Int {
        switch self {
        case .badRequest: return 400
        case .unauthorized: return 401
        case .forbidden: return 403
        case .notFound: return 404
        case .requestTooLarge: return 413
        case .rateLimited: return 429
        case .overloaded, .queueTimeout, .circuitOpen, .noUpstream, .maxAge, .serverShutdown: return 503
        case .connectFailed, .upstreamReset, .upstreamProtocol, .upstreamError: return 502
        case .connectTimeout, .responseHeadTimeout, .firstTokenTimeout, .idleTimeout, .totalTimeout: return 504
        case .clientTimeout, .slowClient: return 408
        case .clientClosed: return 499
        case .internalError: return 500
        }
    }

    /// Whether a request that failed this way may be sent again (here or to another upstream)
    /// unless the error says otherwise. True for failures that happen before an upstream
    /// produced any output, or that are about capacity rather than the request:
    /// rateLimited (after waiting), overloaded, queueTimeout, circuitOpen, noUpstream,
    /// connectFailed, connectTimeout, responseHeadTimeout, firstTokenTimeout, upstreamReset,
    /// maxAge, serverShutdown.
    ///
    /// `upstreamReset` assumes the reset came before the response head; the engine must pass
    /// `retryable: false` for a reset after output was forwarded. False for everything else:
    /// the request itself is at fault (4xx kinds), output already reached the client
    /// (idleTimeout), the budget is spent (totalTimeout), the upstream answered and retrying
    /// would repeat it (upstreamProtocol, upstreamError), or the client is the problem.
    public var defaultRetryable: Bool {
        switch self {
        case .rateLimited, .overloaded, .queueTimeout, .circuitOpen, .noUpstream,
             .connectFailed, .connectTimeout, .responseHeadTimeout, .firstTokenTimeout,
             .upstreamReset, .maxAge, .serverShutdown:
            return true
        case .badRequest, .unauthorized, .forbidden, .notFound, .requestTooLarge,
             .idleTimeout, .totalTimeout, .upstreamProtocol, .upstreamError,
             .clientTimeout, .slowClient, .clientClosed, .internalError:
            return false
        }
    }

    /// The Anthropic API error type this kind is rendered as for Anthropic clients, chosen from
    /// Anthropic's documented set so their SDKs react to it as they would to the real API:
    ///
    /// | kinds | Anthropic type |
    /// |---|---|
    /// | badRequest | invalid_request_error |
    /// | unauthorized | authentication_error |
    /// | forbidden | permission_error |
    /// | notFound | not_found_error |
    /// | requestTooLarge | request_too_large |
    /// | rateLimited | rate_limit_error |
    /// | overloaded, queueTimeout, circuitOpen, noUpstream, maxAge, serverShutdown | overloaded_error |
    /// | connectTimeout, responseHeadTimeout, firstTokenTimeout, idleTimeout, totalTimeout, clientTimeout | timeout_error |
    /// | connectFailed, upstreamReset, upstreamProtocol, upstreamError, slowClient, clientClosed, internalError | api_error |
    public var anthropicErrorType: String {
        switch self {
        case .badRequest: return "invalid_request_error"
        case .unauthorized: return "authentication_error"
        case .forbidden: return "permission_error"
        case .notFound: return "not_found_error"
        case .requestTooLarge: return "request_too_large"
        case .rateLimited: return "rate_limit_error"
        case .overloaded, .queueTimeout, .circuitOpen, .noUpstream, .maxAge, .serverShutdown: return "overloaded_error"
        case .connectTimeout, .responseHeadTimeout, .firstTokenTimeout, .idleTimeout, .totalTimeout, .clientTimeout:
            return "timeout_error"
        case .connectFailed, .upstreamReset, .upstreamProtocol, .upstreamError, .slowClient, .clientClosed, .internalError:
            return "api_error"
        }
    }
}
