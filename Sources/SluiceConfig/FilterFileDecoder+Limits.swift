import SluiceFilterAPI

// `limits:`; see `LimitsSpec` for what each limit means.
extension FilterFileDecoder {
    func decodeLimits(_ map: ConfigMap?) -> LimitsSpec {
        guard let map else { return LimitsSpec() }
        let defaults = LimitsSpec()
        var limits = LimitsSpec(
            maxHeaderBytes: map.size("max_header_bytes", default: defaults.maxHeaderBytes, in: 1024...(1 << 20)),
            maxHeaders: map.int("max_headers", default: defaults.maxHeaders, in: 1...1000),
            maxRequestBody: map.size("max_request_body", default: defaults.maxRequestBody, in: 0...(1 << 30)),
            clientKeepAliveTimeout: map.duration(
                "client_keepalive_timeout", default: defaults.clientKeepAliveTimeout, in: .zero...(.seconds(3600))),
            clientHeaderTimeout: map.duration(
                "client_header_timeout", default: defaults.clientHeaderTimeout, in: .seconds(1)...(.seconds(600))),
            maxConnections: map.int("max_connections", default: defaults.maxConnections, in: 1...1_000_000),
            maxConnectionsPerIP: map.int("max_connections_per_ip", default: defaults.maxConnectionsPerIP, in: 0...1_000_000))
        limits.allowUnderscoresInHeaderNames = map.bool("allow_underscores_in_headers", default: false)
        map.finish()
        return limits
    }
}
