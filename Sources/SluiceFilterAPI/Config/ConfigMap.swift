/// Reads one mapping of a config file and reports what is wrong with it, with positions.
///
/// Typed getters (`string`, `int`, `duration`, … in the extensions) return the value, or nil
/// (or the default) when the key is absent. When the value is present but of the wrong type or
/// out of range they record a positioned error in `diagnostics` and also return nil (or the
/// default), so a reader can keep going and report every problem in one pass.
///
/// A key whose value is null (`key:` with nothing after it, or `key: null`) counts as absent for
/// every typed getter, `has` and `map`/`list`; `node(_:)` still returns it as written.
///
/// Every key a getter asks for becomes a known key. `finish()` then reports the keys nobody
/// asked for as `unknown key 'x'`, suggesting the closest known key, which catches typos such
/// as `idle_timout`. Call it after all reads; calling it again reports nothing new.
///
/// A value type that shares its bookkeeping: copies of a `ConfigMap` (passed to helpers,
/// captured in closures) record asked keys into the same place.
public struct ConfigMap {
    /// Where the mapping starts (its first key for a block mapping, `{` for a flow mapping).
    public let mark: SourceMark
    /// What this mapping is, for messages, e.g. `listener` or `config of filter 'auth'`.
    public let context: String
    /// Where every problem of the whole file is recorded; shared with the file's other readers.
    /// Record problems the getters cannot see (a file the config names, a check across keys) here.
    public let diagnostics: ConfigDiagnostics
    private let entries: [ConfigNode.Entry]
    private let bookkeeping: Bookkeeping
    /// False when the node was not a mapping, which is already reported.
    private let isMapping: Bool

    /// A null node reads as an empty mapping. Any other non-mapping node records
    /// `expected a mapping for <context>, got …` and reads as an empty mapping on which getters
    /// return nil or their defaults and `require` and `finish()` report nothing more.
    public init(_ node: ConfigNode, diagnostics: ConfigDiagnostics, context: String) {
        self.mark = node.mark
        self.context = context
        self.diagnostics = diagnostics
        self.bookkeeping = Bookkeeping()
        switch node.value {
        case .mapping(let entries):
            self.entries = entries
            self.isMapping = true
        case .null:
            self.entries = []
            self.isMapping = true
        case .scalar, .sequence:
            self.entries = []
            self.isMapping = false
            diagnostics.error("expected a mapping for \(context), got \(node.summary)", at: node.mark)
        }
    }

    /// Whether the key is present with a non-null value. Makes `key` a known key.
    public func has(_ key: String) -> Bool {
        guard let node = lookUp(key) else { return false }
        return !node.isNull
    }

    /// The value as written, null included, or nil when the key is absent. Makes `key` a known
    /// key: use it for values a getter does not cover, then report problems with
    /// `error(_:atValueOf:)` or `diagnostics.error(_:at:)`.
    public func node(_ key: String) -> ConfigNode? {
        lookUp(key)
    }

    /// The position of the key itself (not its value), or nil when it is absent.
    /// Does not make `key` a known key.
    public func keyMark(_ key: String) -> SourceMark? {
        entries.first { $0.key == key }?.keyMark
    }

    /// Records `missing required key 'x'` at the mapping's position when `key` is absent, and
    /// `'x' needs a value` at the key when it is present but null.
    public func require(_ key: String) {
        guard let node = lookUp(key) else {
            if isMapping { diagnostics.error("missing required key '\(key)'", at: mark) }
            return
        }
        if node.isNull {
            diagnostics.error("'\(key)' needs a value", at: keyMark(key) ?? node.mark)
        }
    }

    /// Marks keys as known without reading them, for readers that read some keys only in some
    /// cases but accept them always.
    public func allow(_ keys: String...) {
        for key in keys { bookkeeping.ask(key) }
    }

    /// All entries, in file order, for mappings whose keys are names chosen by the user (such as
    /// a table of headers). Makes every present key a known key.
    public func readAllEntries() -> [ConfigNode.Entry] {
        for entry in entries { bookkeeping.ask(entry.key) }
        return entries
    }

    /// Records an error at the value of `key`, or at the mapping when `key` is absent: for
    /// checks that involve several keys or knowledge a getter does not have.
    public func error(_ message: String, atValueOf key: String) {
        diagnostics.error(message, at: entries.first { $0.key == key }?.value.mark ?? mark)
    }

    /// Reports every present key that no getter asked for as `unknown key 'x'`, with a
    /// `did you mean` suggestion when a known key is close, otherwise the list of known keys.
    /// Calling it again reports nothing new.
    public func finish() {
        guard !bookkeeping.finished else { return }
        bookkeeping.finished = true
        let known = bookkeeping.askedInOrder
        for entry in entries where !bookkeeping.asked.contains(entry.key) {
            var message = "unknown key '\(entry.key)'"
            if let suggestion = ConfigSuggestion.closest(to: entry.key, among: known) {
                message += " (did you mean '\(suggestion)'?)"
            } else if known.isEmpty {
                message += " (\(context) takes no keys)"
            } else {
                message += " (known keys: \(known.joined(separator: ", ")))"
            }
            diagnostics.error(message, at: entry.keyMark)
        }
    }

    /// The value under `key`, recording `key` as known. Getters go through here.
    func lookUp(_ key: String) -> ConfigNode? {
        bookkeeping.ask(key)
        return entries.first { $0.key == key }?.value
    }

    /// The value under `key` unless absent or null, recording `key` as known.
    func presentValue(_ key: String) -> ConfigNode? {
        guard let node = lookUp(key), !node.isNull else { return nil }
        return node
    }
}

/// The keys readers asked for, shared by all copies of one `ConfigMap`.
private final class Bookkeeping {
    var asked: Set<String> = []
    /// The same keys in the order readers asked, which is usually the documented order: the
    /// order to list them in messages.
    var askedInOrder: [String] = []
    var finished = false

    func ask(_ key: String) {
        if asked.insert(key).inserted { askedInOrder.append(key) }
    }
}
