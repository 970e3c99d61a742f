import SluiceFilterAPI
import SluiceHTTP

extension TestClient {
    /// Connects to `127.0.0.1:port`, POSTs `json` to `path` with `Host`, `Content-Type:
    /// application/json` and `headers` (appended after those two), reads the whole response and
    /// closes. `timeout` bounds the response read; the answer's `ending` says whether it was
    /// whole. Throws what `init`, `send` and `readResponse` throw.
    public static func post(
        port: Int, path: String, json: String, headers: [(String, String)] = [],
        timeout: Duration = .seconds(10)
    ) throws -> TestResponse {
        let client = try TestClient(port: port)
        defer { client.close() }
        var fields = HTTPHeaders([("host", "127.0.0.1:\(port)"), ("content-type", "application/json")])
        for (name, value) in headers { fields.add(name, value) }
        try client.send(HTTPRequestHead(method: "POST", target: path, headers: fields), body: Array(json.utf8))
        return try client.readResponse(timeout: timeout)
    }

    /// The user message `chatRequest` sends: six words, so the mock backend estimates six prompt tokens.
    public static let chatPrompt = "hello from the sluice test client"

    /// An OpenAI chat completions body with one user message (`chatPrompt`):
    /// `{"model":…,"messages":[…],"stream":…}`, plus `"stream_options":{"include_usage":true}`
    /// when `includeUsage`, and `"max_tokens"` when given.
    public static func chatRequest(
        stream: Bool = true, model: String = "sluice-mock", includeUsage: Bool = false, maxTokens: Int? = nil
    ) -> String {
        var json = #"{"model":\#(JSONText.quoted(model)),"messages":[{"role":"user","content":\#(JSONText.quoted(chatPrompt))}],"stream":\#(stream)"#
        if includeUsage { json += #","stream_options":{"include_usage":true}"# }
        if let maxTokens { json += #","max_tokens":\#(maxTokens)"# }
        return json + "}"
    }
}
