import SluiceFilterAPI

/// One filter in a chain: its type, the name it goes by, and its configuration, still
/// undecoded (the filter decodes it, e.g. with `ConfigMap`).
public struct FilterSpec: Sendable {
    /// The registered filter type (`filter: token_bucket`).
    public var type: String
    /// From `name`, defaulting to `type`; unique within its chain.
    public var name: String
    /// The `config` value as written. When the entry has no `config` it is a null node at the
    /// entry's position, which `ConfigMap` reads as an empty mapping.
    public var config: ConfigNode
    /// The entry in the file.
    public var mark: SourceMark

    public init(type: String, name: String? = nil, config: ConfigNode, mark: SourceMark) {
        self.type = type
        self.name = name ?? type
        self.config = config
        self.mark = mark
    }
}
