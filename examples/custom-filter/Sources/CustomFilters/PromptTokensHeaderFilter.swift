import Foundation
import SluiceFilterAPI

/// The `prompt_tokens_header` filter: tells the client how many tokens its prompt is estimated to
/// be, in a response header.
///
/// ```yaml
/// - filter: prompt_tokens_header
///   config: { header: x-prompt-tokens }
/// ```
///
/// | key | default | meaning |
/// |---|---|---|
/// | `header` | `x-prompt-tokens` | the response header |
/// | `body_limit` | `4MiB` | the largest request body read; a larger one gets 413 |
///
/// "The request's token count" is the prompt's, because the response head, where headers go, is
/// sent before any output token exists. It is estimated the way `token_bucket` estimates it:
/// the characters of the prompt's text divided by 4, rounded up. The text is every message's
/// `content` (a string, or the `text` of its parts), Anthropic's `system`, and the completions
/// API's `prompt`. A body that is not JSON counts 0. The header is on every answer the client
/// gets once the body was read: the upstream's, or an error.
///
/// The filter reads the request body (`requestBodyLimit`), so the engine buffers it before the
/// upstream is asked. It keeps no state: nothing is shared across workers or carried over a reload.
public final class PromptTokensHeaderFilter: Filter {
    /// The response header.
    public let header: String
    private let bodyLimit: Int

    /// Asks the engine for the request body, up to `body_limit`.
    public var requestBodyLimit: Int? { bodyLimit }

    /// Reads the config; problems are recorded in `setup.config` with their positions.
    public init(_ setup: FilterSetup) {
        header = setup.config.string("header", default: "x-prompt-tokens")
        bodyLimit = setup.config.size("body_limit", default: 4 * 1024 * 1024, in: 1...(64 * 1024 * 1024))
    }

    /// Estimates the prompt and adds the header. Loop thread.
    public func onRequestBody(_ exchange: Exchange) -> Decision {
        let tokens = Self.estimatedPromptTokens(exchange.requestBody ?? [])
        exchange.responseHeaders.append((header, String(tokens)))
        return .next
    }

    /// Characters of the prompt's text / 4, rounded up; 0 for a body that is not a JSON object.
    public static func estimatedPromptTokens(_ body: [UInt8]) -> Int {
        guard let object = (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any] else { return 0 }
        var characters = 0
        func add(_ value: Any?) {
            switch value {
            case let text as String:
                characters += text.count
            case let parts as [Any]:
                for part in parts { add(part) }
            case let part as [String: Any]:
                add(part["text"])
            default:
                break
            }
        }
        for message in object["messages"] as? [[String: Any]] ?? [] {
            add(message["content"])
        }
        add(object["system"])
        add(object["prompt"])
        return (characters + 3) / 4
    }
}
