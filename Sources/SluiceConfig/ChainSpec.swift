import SluiceFilterAPI

/// A named, ordered list of filters that routes send requests through (`chains.<name>`).
public struct ChainSpec: Sendable {
    /// The mapping key under `chains`.
    public var name: String
    /// In the order written; may be empty. Names are unique within the chain.
    public var filters: [FilterSpec]
    /// The chain's name key in the file.
    public var mark: SourceMark

    public init(name: String, filters: [FilterSpec], mark: SourceMark) {
        self.name = name
        self.filters = filters
        self.mark = mark
    }
}
