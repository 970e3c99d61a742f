import Foundation

/// What the `token_bucket` filter reads from an LLM request body in `mode: tokens`: how many
/// model tokens the request may cost, and whether the stream will report usage. Parsed once per
/// request with `JSONSerialization`.
///
/// The estimate (an upper bound for admission; the filter settles from the real usage later):
///
/// | part | how it is estimated |
/// |---|---|
/// | prompt | the characters (Unicode scalars) of the text the model reads, divided by 4, rounded up: `messages[].content` (a string, or the `text` of its parts), `system`, `prompt`, `input`. A JSON object with none of these, or a body that is not a JSON object: its bytes divided by 4, rounded up |
/// | completion | the smallest of `max_tokens`, `max_completion_tokens` and `max_output_tokens`; the filter's `default_max_tokens` when the body has none. Nothing when the body is not a JSON object |
/// | total | prompt + completion, at least 1 |
struct LLMRequestEstimate: Equatable {
    /// The estimated prompt size in tokens.
    var promptTokens = 0
    /// The completion allowance in tokens.
    var completionTokens = 0
    /// `"stream": true`.
    var stream = false
    /// `stream_options.include_usage` is true: the client asked for the usage chunk itself.
    var includesUsage = false
    /// The body was a JSON object.
    var isJSONObject = false

    /// What is reserved: prompt plus completion, at least 1.
    var totalTokens: Int {
        let (sum, overflow) = promptTokens.addingReportingOverflow(completionTokens)
        return overflow ? Int.max : max(1, sum)
    }

    init(body: [UInt8], defaultMaxTokens: Int) {
        guard !body.isEmpty else { return }
        guard let object = Self.jsonObject(body) else {
            promptTokens = Self.quarterRoundedUp(body.count)
            return
        }
        isJSONObject = true
        stream = object["stream"] as? Bool == true
        includesUsage = (object["stream_options"] as? [String: Any])?["include_usage"] as? Bool == true

        var characters = 0
        var sawPromptField = false
        for field in ["messages", "system", "prompt", "input"] {
            guard let value = object[field] else { continue }
            sawPromptField = true
            characters += Self.textCharacters(in: value, depth: 0)
        }
        promptTokens = Self.quarterRoundedUp(sawPromptField ? characters : body.count)

        let limits = ["max_tokens", "max_completion_tokens", "max_output_tokens"].compactMap { Self.count(object[$0]) }
        completionTokens = limits.min() ?? defaultMaxTokens
    }

    /// The body with `stream_options.include_usage` set to true, or nil when it cannot be changed
    /// safely (not a JSON object, or `stream_options` is not an object).
    ///
    /// When the body has no `stream_options`, the member is spliced in after the opening brace
    /// and the client's bytes are otherwise kept as they were. Otherwise the body is
    /// re-serialized (member order and number spelling may change, not their meaning).
    static func addingIncludeUsage(to body: [UInt8]) -> [UInt8]? {
        guard var object = jsonObject(body) else { return nil }
        guard let options = object["stream_options"], !(options is NSNull) else {
            guard let brace = body.firstIndex(of: UInt8(ascii: "{")) else { return nil }
            let member = Array(#""stream_options":{"include_usage":true}"#.utf8)
            let isEmpty = object.isEmpty
            var changed = Array(body[...brace])
            changed += member
            if !isEmpty { changed.append(UInt8(ascii: ",")) }
            changed += body[(brace + 1)...]
            return changed
        }
        guard var dictionary = options as? [String: Any] else { return nil }
        dictionary["include_usage"] = true
        object["stream_options"] = dictionary
        guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.withoutEscapingSlashes]) else {
            return nil
        }
        return Array(data)
    }

    /// The event data without its `usage` member, or nil when it is not a JSON object.
    static func removingUsage(from data: String) -> String? {
        guard var object = jsonObject(Array(data.utf8)) else { return nil }
        object["usage"] = nil
        guard let encoded = try? JSONSerialization.data(withJSONObject: object, options: [.withoutEscapingSlashes]) else {
            return nil
        }
        return String(decoding: encoded, as: UTF8.self)
    }

    private static func jsonObject(_ bytes: [UInt8]) -> [String: Any]? {
        (try? JSONSerialization.jsonObject(with: Data(bytes), options: [])) as? [String: Any]
    }

    private static func quarterRoundedUp(_ n: Int) -> Int { n / 4 + (n % 4 == 0 ? 0 : 1) }

    /// A non-negative JSON integer (not a boolean), or nil.
    private static func count(_ value: Any?) -> Int? {
        guard let number = value as? NSNumber, !(value is Bool), String(cString: number.objCType) != "c",
              let integer = Int(exactly: number.doubleValue), integer >= 0 else { return nil }
        return integer
    }

    /// The characters of the text a model reads in a prompt field: a string; the `text` or
    /// `content` of parts and messages; lists of those. Other members (roles, image URLs, ids) do
    /// not count. Nesting deeper than a prompt ever goes is ignored.
    private static func textCharacters(in value: Any, depth: Int) -> Int {
        guard depth < 8 else { return 0 }
        switch value {
        case let text as String:
            return text.unicodeScalars.count
        case let list as [Any]:
            return list.reduce(0) { $0 + textCharacters(in: $1, depth: depth + 1) }
        case let object as [String: Any]:
            var total = 0
            for field in ["content", "text"] {
                if let inner = object[field] { total += textCharacters(in: inner, depth: depth + 1) }
            }
            return total
        default:
            return 0
        }
    }
}
