/// Where the generated text sits in a content event's JSON, for the three shapes
/// `stream_redaction` rewrites: OpenAI chat (`choices[].delta.content`), OpenAI completions
/// (`choices[].text`) and Anthropic (`content_block_delta` with `delta.text`).
enum TextDeltas {
    /// The text of each choice or block the event carries, by index.
    static func texts(in object: [String: Any], event: String?) -> [(index: Int, text: String)] {
        if object["type"] as? String == "content_block_delta" {
            guard let delta = object["delta"] as? [String: Any], let text = delta["text"] as? String else { return [] }
            return [((object["index"] as? Int) ?? 0, text)]
        }
        guard let choices = object["choices"] as? [[String: Any]] else { return [] }
        return choices.enumerated().compactMap { position, choice in
            let index = (choice["index"] as? Int) ?? position
            if let delta = choice["delta"] as? [String: Any], let text = delta["content"] as? String {
                return (index, text)
            }
            if let text = choice["text"] as? String { return (index, text) }
            return nil
        }
    }

    /// Replaces the text of the choice or block `index` in `object`.
    static func setText(_ text: String, index: Int, in object: inout [String: Any]) {
        if object["type"] as? String == "content_block_delta" {
            guard var delta = object["delta"] as? [String: Any] else { return }
            delta["text"] = text
            object["delta"] = delta
            return
        }
        guard var choices = object["choices"] as? [[String: Any]] else { return }
        for position in choices.indices where ((choices[position]["index"] as? Int) ?? position) == index {
            if var delta = choices[position]["delta"] as? [String: Any] {
                delta["content"] = text
                choices[position]["delta"] = delta
            } else {
                choices[position]["text"] = text
            }
        }
        object["choices"] = choices
    }

    /// `object` cut down to the choice `index` (OpenAI; an Anthropic event has one block anyway)
    /// with its text set to `text`.
    static func only(index: Int, of object: [String: Any], withText text: String) -> [String: Any] {
        var result = object
        if var choices = result["choices"] as? [[String: Any]] {
            choices = choices.enumerated().filter { position, choice in
                ((choice["index"] as? Int) ?? position) == index
            }.map(\.element)
            result["choices"] = choices
        }
        setText(text, index: index, in: &result)
        return result
    }
}
