extension ProxyError {
    /// The JSON error document in the client's dialect; the same bytes serve as a response body
    /// and as the data of a final SSE event. The message is escaped with `JSONText`.
    ///
    /// OpenAI: `{"error":{"type":"<kind>","message":"...","code":<status>}}`: `type` is the
    /// Sluice kind's raw value, `code` the HTTP status (a number). With `clientType` or `code` set:
    /// `{"error":{"type":"<clientType>","message":"...","code":"<code>","sluice_kind":"<kind>"}}`
    /// (the code as a string, or the status when only the type was set), as OpenAI's own errors read.
    ///
    /// Anthropic: `{"type":"error","error":{"type":"<anthropic type>","message":"...","sluice_kind":"<kind>"}}`:
    /// `error.type` is `clientType` or else `kind.anthropicErrorType`, so Anthropic SDKs classify it as
    /// usual, and the Sluice kind rides along in `sluice_kind`, which those SDKs ignore.
    public func jsonBody(dialect: StreamDialect) -> [UInt8] {
        var body: [UInt8] = []
        body.reserveCapacity(message.utf8.count + 96)
        switch dialect {
        case .openai:
            body.append(contentsOf: #"{"error":{"type":"#.utf8)
            JSONText.appendQuoted(clientType ?? kind.rawValue, to: &body)
            body.append(contentsOf: #","message":"#.utf8)
            JSONText.appendQuoted(message, to: &body)
            body.append(contentsOf: #","code":"#.utf8)
            if let code { JSONText.appendQuoted(code, to: &body) } else { body.append(contentsOf: String(status).utf8) }
            if clientType != nil || code != nil {
                body.append(contentsOf: #","sluice_kind":""#.utf8)
                body.append(contentsOf: kind.rawValue.utf8)
                body.append(UInt8(ascii: "\""))
            }
            body.append(contentsOf: "}}".utf8)
        case .anthropic:
            body.append(contentsOf: #"{"type":"error","error":{"type":"#.utf8)
            JSONText.appendQuoted(clientType ?? kind.anthropicErrorType, to: &body)
            body.append(contentsOf: #","message":"#.utf8)
            JSONText.appendQuoted(message, to: &body)
            body.append(contentsOf: #","sluice_kind":""#.utf8)
            body.append(contentsOf: kind.rawValue.utf8)
            body.append(contentsOf: #""}}"#.utf8)
        }
        return body
    }

    /// The whole response, for use before the response head was sent: `status`, the JSON body
    /// of `jsonBody(dialect:)`, and headers `content-type: application/json`, `content-length`,
    /// `retry-after` (when `retryAfterSeconds` is set and not negative), then `headers`.
    public func renderedResponse(dialect: StreamDialect = .openai) -> RenderedErrorResponse {
        let body = jsonBody(dialect: dialect)
        var responseHeaders: [(String, String)] = [
            ("content-type", "application/json"),
            ("content-length", String(body.count)),
        ]
        responseHeaders.reserveCapacity(3 + headers.count)
        if let retryAfterSeconds, retryAfterSeconds >= 0 {
            responseHeaders.append(("retry-after", String(retryAfterSeconds)))
        }
        responseHeaders.append(contentsOf: headers)
        return RenderedErrorResponse(status: status, headers: responseHeaders, body: body)
    }

    /// The error as the stream's last SSE event in the client's dialect, for use after the
    /// response head was sent (the status and headers can no longer change, so `retry-after`
    /// and `headers` are not part of it). The body is one line, since JSON escaping leaves no
    /// raw newline in it.
    ///
    /// OpenAI: `data: <jsonBody>\n\n` (OpenAI SDKs raise on a chunk with an `error` member).
    /// No `[DONE]` follows; the engine should close the stream after it.
    /// Anthropic: `event: error\ndata: <jsonBody>\n\n`, as the Anthropic API sends errors mid-stream.
    public func sseEvent(dialect: StreamDialect) -> [UInt8] {
        var bytes: [UInt8] = []
        let body = jsonBody(dialect: dialect)
        bytes.reserveCapacity(body.count + 22)
        if dialect == .anthropic {
            bytes.append(contentsOf: "event: error\n".utf8)
        }
        bytes.append(contentsOf: "data: ".utf8)
        bytes.append(contentsOf: body)
        bytes.append(contentsOf: "\n\n".utf8)
        return bytes
    }
}
