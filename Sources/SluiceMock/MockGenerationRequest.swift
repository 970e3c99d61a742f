import Foundation

/// What the planner reads from a completion request body (`/v1/chat/completions`,
/// `/v1/completions`, `/v1/messages`).
///
/// Only the fields the mock acts on are checked: the body must be a JSON object, and `stream`,
/// `stream_options.include_usage`, `max_tokens`, `max_completion_tokens` and `model` must have
/// the right type when present. Everything else is ignored, so minimal bodies such as
/// `{"stream":true}` are accepted.
struct MockGenerationRequest: Sendable, Equatable {
    /// `"stream": true`.
    var stream = false
    /// `"stream_options": {"include_usage": true}` (OpenAI only).
    var includeUsage = false
    /// The smallest of `max_tokens` and `max_completion_tokens`, when either is given.
    var maxTokens: Int?
    /// `"model"`, echoed in the response like real backends do.
    var model: String?
    /// The prompt size estimate: the number of whitespace-separated words in the prompt text
    /// (message contents and text parts, Anthropic's `system`, a completions `prompt`).
    var promptTokens = 0

    /// Reads a body; the error message is meant for a 400 answer.
    static func parse(_ body: [UInt8], for endpoint: MockEndpoint) -> Result<MockGenerationRequest, MockRequestError> {
        let json: Any
        do {
            json = try JSONSerialization.jsonObject(with: Data(body), options: [])
        } catch {
            return .failure(MockRequestError("request body is not valid JSON"))
        }
        guard let object = json as? [String: Any] else {
            return .failure(MockRequestError("request body must be a JSON object"))
        }
        var request = MockGenerationRequest()
        do {
            request.stream = try boolean(object["stream"], "stream") ?? false
            if let options = object["stream_options"], !(options is NSNull) {
                guard let options = options as? [String: Any] else {
                    throw MockRequestError("stream_options must be an object")
                }
                request.includeUsage = try boolean(options["include_usage"], "stream_options.include_usage") ?? false
            }
            let limits = [
                try count(object["max_tokens"], "max_tokens"),
                try count(object["max_completion_tokens"], "max_completion_tokens"),
            ].compactMap { $0 }
            request.maxTokens = limits.min()
            if let model = object["model"], !(model is NSNull) {
                guard let model = model as? String else { throw MockRequestError("model must be a string") }
                request.model = model
            }
        } catch let error as MockRequestError {
            return .failure(error)
        } catch {
            return .failure(MockRequestError("\(error)"))
        }
        request.promptTokens = promptWords(in: object, for: endpoint)
        return .success(request)
    }

    /// A JSON boolean, or nil when absent or null.
    private static func boolean(_ value: Any?, _ name: String) throws -> Bool? {
        guard let value, !(value is NSNull) else { return nil }
        // JSONSerialization hands out booleans as NSNumber, and NSNumber(1) also casts to Bool;
        // only a real JSON boolean has the objCType "c".
        guard let number = value as? NSNumber, String(cString: number.objCType) == "c" else {
            throw MockRequestError("\(name) must be a boolean")
        }
        return number.boolValue
    }

    /// A non-negative JSON integer, or nil when absent or null.
    private static func count(_ value: Any?, _ name: String) throws -> Int? {
        guard let value, !(value is NSNull) else { return nil }
        guard let number = value as? NSNumber, String(cString: number.objCType) != "c",
              let integer = Int(exactly: number.doubleValue), integer >= 0
        else {
            throw MockRequestError("\(name) must be a non-negative integer")
        }
        return integer
    }

    private static func promptWords(in object: [String: Any], for endpoint: MockEndpoint) -> Int {
        var words = 0
        func add(_ text: String) {
            words += text.split(whereSeparator: { $0.isWhitespace }).count
        }
        /// A message content or Anthropic system: a string, or an array of parts with "text".
        func addContent(_ content: Any?) {
            if let text = content as? String {
                add(text)
            } else if let parts = content as? [Any] {
                for case let part as [String: Any] in parts {
                    if let text = part["text"] as? String { add(text) }
                }
            }
        }
        switch endpoint {
        case .chatCompletions, .messages:
            if endpoint == .messages { addContent(object["system"]) }
            for case let message as [String: Any] in object["messages"] as? [Any] ?? [] {
                addContent(message["content"])
            }
        case .completions:
            if let prompt = object["prompt"] as? String {
                add(prompt)
            } else if let prompts = object["prompt"] as? [Any] {
                for prompt in prompts {
                    if let text = prompt as? String { add(text) }
                }
            }
        case .models:
            break
        }
        return words
    }
}

/// A request the mock refuses with `400 Bad Request`; `message` goes into the JSON error body.
struct MockRequestError: Error, Sendable, Equatable {
    var message: String
    init(_ message: String) { self.message = message }
}
