/// The wire dialect of an LLM stream: which event shapes to expect and how to render errors.
public enum StreamDialect: String, Sendable, CaseIterable {
    /// OpenAI chat completions and completions chunks ending in `data: [DONE]` (also vLLM,
    /// Ollama, llama.cpp and other OpenAI-compatible servers), and OpenAI Responses API events.
    case openai
    /// Anthropic Messages API events (`message_start` ... `message_stop`).
    case anthropic

    /// Guesses the dialect from a request path (the request target as sent: a query or fragment
    /// is ignored, as is one trailing slash). A path ending in "/messages", such as
    /// "/v1/messages" or "/v1/messages?beta=true", is Anthropic; everything else is OpenAI.
    /// Case-sensitive, like paths.
    public static func forPath(_ path: some StringProtocol) -> StreamDialect {
        var bytes = Array(path.utf8.prefix { $0 != 0x3F && $0 != 0x23 })
        if bytes.last == 0x2F { bytes.removeLast() }
        return bytes.suffix(9).elementsEqual("/messages".utf8) ? .anthropic : .openai
    }
}
