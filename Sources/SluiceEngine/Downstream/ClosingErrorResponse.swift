import SluiceFilterAPI
import SluiceHTTP

extension ProxyError {
    /// The whole HTTP/1.1 response for this error as the proxy answers it without a chain (no
    /// route, a malformed or too slow request, no descriptor left): the OpenAI-shaped JSON error,
    /// `Connection: close`, and `x-request-id` when given. The connection closes after it.
    func closingResponseBytes(requestID: String?) -> [UInt8] {
        let rendered = renderedResponse(dialect: .openai)
        var response = HTTPResponseHead(status: rendered.status)
        for (name, value) in rendered.headers { response.headers.add(name, value) }
        if let requestID { response.headers.set("x-request-id", requestID) }
        response.headers.set("connection", "close")
        var bytes: [UInt8] = []
        response.write(into: &bytes)
        bytes.append(contentsOf: rendered.body)
        return bytes
    }
}
