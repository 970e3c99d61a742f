import SluiceFilterAPI
import SluiceHTTP

extension ProxyError {
    /// The whole HTTP/1.1 response for this error as the proxy answers it without a chain (no
    /// route, a malformed or too slow request, no descriptor left): the OpenAI-shaped JSON error,
    /// `Connection: close`, and `x-request-id` when given. The connection closes after it.
    func closingResponseBytes(requestID: String?) -> [UInt8] {
        responseBytes(requestID: requestID, keepAlive: false, clientVersion: .http1_1)
    }

    /// The same response when the connection may stay: without `Connection: close` when
    /// `keepAlive`, and with `Connection: keep-alive` for an HTTP/1.0 client, which closes otherwise.
    func responseBytes(requestID: String?, keepAlive: Bool, clientVersion: HTTPVersion) -> [UInt8] {
        let rendered = renderedResponse(dialect: .openai)
        var response = HTTPResponseHead(status: rendered.status)
        for (name, value) in rendered.headers { response.headers.add(name, value) }
        if let requestID { response.headers.set("x-request-id", requestID) }
        if !keepAlive {
            response.headers.set("connection", "close")
        } else if clientVersion == .http1_0 {
            response.headers.set("connection", "keep-alive")
        }
        var bytes: [UInt8] = []
        response.write(into: &bytes)
        bytes.append(contentsOf: rendered.body)
        return bytes
    }
}
