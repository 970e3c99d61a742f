import Foundation
import SluiceFilterAPI

/// The `stream_redaction` filter: removes configured strings from the text an LLM streams back,
/// including a match that is split across two events.
///
/// ```yaml
/// - filter: stream_redaction
///   config:
///     literals: ["Project Nightingale"]
///     patterns: ['sk-[A-Za-z0-9]{16,48}']
///     replacement: "[redacted]"
/// ```
///
/// | key | default | meaning |
/// |---|---|---|
/// | `literals` | none | strings removed exactly as written (case-sensitive) |
/// | `patterns` | none | regular expressions (Swift `Regex` syntax; `(?i)` for case-insensitive) removed wherever they match |
/// | `max_pattern_length` | `64` | the longest text a pattern may match, in characters, 2 to 4096 |
/// | `replacement` | `[redacted]` | what each match becomes |
///
/// At least one of `literals` and `patterns` is required.
///
/// What is rewritten: the text of content deltas, OpenAI chat `choices[].delta.content`, OpenAI
/// completions `choices[].text`, and Anthropic `content_block_delta` `delta.text`; each choice
/// (or content block) is its own text, by its `index`. Every other event passes untouched. A
/// rewritten event is re-serialized from its parsed JSON: the same members and values, still
/// one valid JSON object, with its members sorted by name (number spelling may also differ from
/// the upstream's).
///
/// Matches across events: a text tail that could be the beginning of a match is held back from
/// its event (which is sent with the rest of its text, so the client gets the same events, at the
/// same moments) and put in front of the next delta of the same choice. The held text is released
/// when the content ends: just before the first event of the stream that is not content and not
/// a ping (the OpenAI finish chunk, usage chunk or `[DONE]`; Anthropic's `content_block_stop`),
/// as one added event shaped like the choice's last content event with the held text in it. So a
/// client gets at most one more event per choice than the upstream sent, and only when text was
/// held at the end. A stream cut before that point loses the held text (at most
/// `max_pattern_length - 1` characters, or the longest literal less one), which is what a
/// redaction must do: it cannot tell whether the text would have matched.
///
/// Latency: held text reaches the client one event later. Literals hold back only a tail that
/// begins some literal, usually nothing; patterns always hold back the last `max_pattern_length - 1`
/// characters (a regular expression cannot say whether a tail could still start a match), so keep
/// `max_pattern_length` as small as the patterns allow.
///
/// The filter `rewritesEvents`, so the chain it is in forwards whole events rather than bytes as
/// they arrive.
///
/// Threads: the rules are immutable and shared by every worker; what a stream holds back lives in
/// the exchange (the filter's `ExchangeState`, a `RedactionState`), so nothing is shared between
/// exchanges and no lock is needed. Nothing carries over a reload: held text belongs to the exchange, which finishes on the
/// chain it started with.
public final class StreamRedactionFilter: StatefulFilter {
    /// What is removed.
    public let rules: RedactionRules

    /// What a stream holds back, one per exchange.
    public typealias ExchangeState = RedactionState
    public let stateSlot = ExchangeStateSlot()
    public func makeState(for exchange: Exchange) -> RedactionState { RedactionState() }

    /// Receives every event.
    public var wantsEvents: Bool { true }
    /// Changes content events and adds one at the end of the content.
    public var rewritesEvents: Bool { true }

    /// Reads the config; problems are recorded in `setup.config` with their positions.
    public init(_ setup: FilterSetup) {
        let config = setup.config
        let literals = config.strings("literals") ?? []
        if literals.contains(where: \.isEmpty) {
            config.error("'literals' must not contain an empty string", atValueOf: "literals")
        }
        var patterns: [Regex<AnyRegexOutput>] = []
        for node in config.list("patterns") ?? [] {
            guard let text = node.scalar else {
                config.diagnostics.error("a pattern must be a string, got \(node.summary)", at: node.mark)
                continue
            }
            do {
                let regex = try Regex(text)
                if (try? regex.wholeMatch(in: "")) != nil {
                    config.diagnostics.error("pattern '\(text)' matches empty text", at: node.mark)
                } else {
                    patterns.append(regex)
                }
            } catch {
                config.diagnostics.error("pattern '\(text)' is not a valid regular expression: \(error)", at: node.mark)
            }
        }
        if !config.has("literals") && !config.has("patterns") {
            config.error("give 'literals', 'patterns' or both: the strings to redact", atValueOf: "literals")
        }
        rules = RedactionRules(
            literals: literals.filter { !$0.isEmpty },
            patterns: patterns,
            maxPatternLength: config.int("max_pattern_length", default: 64, in: 2...4096),
            replacement: config.string("replacement", default: "[redacted]"))
    }

    /// Rewrites the text of content events and releases held text before the content ends. Loop thread.
    public func onEvent(_ exchange: Exchange, _ event: inout SSEEvent, _ info: LLMEventInfo) -> EventDecision {
        let state = exchange.state(for: self)
        switch info.kind {
        case .content:
            guard var object = Self.jsonObject(event.data) else { return .pass }
            var changed = false
            for (index, text) in TextDeltas.texts(in: object, event: event.event) {
                var stream = state.streams[index] ?? RedactionStream(rules: rules)
                let sent = stream.feed(text)
                state.streams[index] = stream
                state.lastContent[index] = (event.event, object)
                if sent != text {
                    TextDeltas.setText(sent, index: index, in: &object)
                    changed = true
                }
            }
            guard changed, let data = Self.jsonText(object) else { return .pass }
            event.data = data
            return .modified
        case .ping:
            return .pass
        default:
            let released = state.releaseHeld()
            return released.isEmpty ? .pass : .prepend(released)
        }
    }

    static func jsonObject(_ text: String) -> [String: Any]? {
        (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any]
    }

    static func jsonText(_ object: [String: Any]) -> String? {
        guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]) else {
            return nil
        }
        return String(decoding: data, as: UTF8.self)
    }
}

/// What `stream_redaction` keeps for one exchange.
public final class RedactionState {
    /// The text of each choice (OpenAI) or content block (Anthropic), by index.
    var streams: [Int: RedactionStream] = [:]
    /// Each index's last content event as received (its event name and parsed data): the shape of
    /// the event that releases held text.
    var lastContent: [Int: (event: String?, object: [String: Any])] = [:]

    /// One event per index with held text, carrying that text redacted; nothing stays held.
    func releaseHeld() -> [SSEEvent] {
        var events: [SSEEvent] = []
        for index in streams.keys.sorted() {
            guard var stream = streams[index], !stream.held.isEmpty else { continue }
            let text = stream.finish()
            streams[index] = stream
            guard let (name, template) = lastContent[index] else { continue }
            let object = TextDeltas.only(index: index, of: template, withText: text)
            if let data = StreamRedactionFilter.jsonText(object) {
                events.append(SSEEvent(event: name, data: data))
            }
        }
        return events
    }
}
