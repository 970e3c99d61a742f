// Getters for nested lists and mappings.
extension ConfigMap {
    /// A list of scalars. A single scalar is accepted as a one-item list, so `hosts: a.example`
    /// reads like `hosts: [a.example]`. Any item that is not a scalar records an error at the
    /// item, and the result is nil.
    public func strings(_ key: String) -> [String]? {
        guard let node = presentValue(key) else { return nil }
        switch node.value {
        case .scalar(let text):
            return [text]
        case .sequence(let items):
            var texts: [String] = []
            var ok = true
            for (index, item) in items.enumerated() {
                if let text = item.scalar {
                    texts.append(text)
                } else {
                    diagnostics.error(
                        "'\(key)' must be a list of strings; item \(index + 1) is \(item.summary)", at: item.mark)
                    ok = false
                }
            }
            return ok ? texts : nil
        case .null, .mapping:
            diagnostics.error("'\(key)' must be a list of strings, got \(node.summary)", at: node.mark)
            return nil
        }
    }

    /// A reader for the nested mapping under `key`, sharing this reader's diagnostics. Nil when
    /// the key is absent or null, and (with an error recorded) when the value is not a mapping.
    /// Call `finish()` on it too.
    public func map(_ key: String) -> ConfigMap? {
        guard let node = presentValue(key) else { return nil }
        guard node.mapping != nil else {
            diagnostics.error("expected a mapping for '\(key)', got \(node.summary)", at: node.mark)
            return nil
        }
        return ConfigMap(node, diagnostics: diagnostics, context: "'\(key)'")
    }

    /// The items of the list under `key`. Nil when the key is absent or null, and (with an error
    /// recorded) when the value is not a list.
    public func list(_ key: String) -> [ConfigNode]? {
        guard let node = presentValue(key) else { return nil }
        guard let items = node.sequence else {
            diagnostics.error("'\(key)' must be a list, got \(node.summary)", at: node.mark)
            return nil
        }
        return items
    }
}
