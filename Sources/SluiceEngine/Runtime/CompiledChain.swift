import SluiceFilterAPI

/// A chain's filters, built from the file, with what the engine needs to know about them precomputed
/// so the per-chunk path does no searching.
final class CompiledChain: Sendable {
    let name: String
    let filters: [any Filter]
    let filterNames: [String]
    /// The largest body any filter asked to buffer; nil: stream the request body.
    let requestBodyLimit: Int?
    /// How much of a streamed request body is kept for replay.
    let replayLimit: Int
    /// Indices (file order) of filters that receive `onEvent`.
    let eventFilters: [Int]
    /// Some filter may change or drop events: forward whole events only.
    let rewritesEvents: Bool
    /// Indices (file order) of filters that receive `onResponseChunk`.
    let chunkFilters: [Int]
    /// The body may change size on the way: Content-Length cannot be passed through.
    var rewritesBody: Bool { rewritesEvents || !chunkFilters.isEmpty }

    init(name: String, filters: [any Filter], filterNames: [String]) {
        self.name = name
        self.filters = filters
        self.filterNames = filterNames
        self.requestBodyLimit = filters.compactMap(\.requestBodyLimit).max()
        self.replayLimit = filters.compactMap(\.requestReplayLimit).max() ?? 64 * 1024
        self.eventFilters = filters.indices.filter { filters[$0].wantsEvents }
        self.rewritesEvents = filters.contains { $0.rewritesEvents }
        self.chunkFilters = filters.indices.filter { filters[$0].wantsChunks }
    }
}
