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
    /// Some filter reads or rewrites events' fields: an `SSEEvent` is built for each event. When
    /// the event filters read only `LLMEventInfo`, they get an empty one.
    let readsEventFields: Bool
    /// Indices (file order) of filters that receive `onResponseChunk`.
    let chunkFilters: [Int]
    /// Indexed by filter: at the first filter of each run of two or more consecutive
    /// `SharedLimitFilter`s, the run, whose shared calls the engine makes in one round trip before
    /// the run's first `onRequest`; nil elsewhere. Empty when the chain has no such run.
    let sharedLimitRuns: [[any SharedLimitFilter]?]
    /// Indices (file order) of filters asked `onClientLeft` when the client leaves mid-stream;
    /// empty for most chains, which then cancel the upstream without asking anyone.
    let clientLeftFilters: [Int]
    /// Each filter's `hooks`, by index: the walks skip a filter whose hook is not in its set.
    let hooks: [FilterHooks]
    /// Which filters answered what their hook cannot honour, so each is warned about once.
    let unhonoured: UnhonouredAnswers
    /// The body may change size on the way: Content-Length cannot be passed through.
    var rewritesBody: Bool { rewritesEvents || !chunkFilters.isEmpty }

    init(name: String, filters: [any Filter], filterNames: [String]) {
        self.name = name
        self.filters = filters
        self.filterNames = filterNames
        self.requestBodyLimit = filters.compactMap(\.requestBodyLimit).max()
        self.replayLimit = filters.compactMap(\.requestReplayLimit).max() ?? 64 * 1024
        let access = filters.map(\.eventAccess)
        self.eventFilters = filters.indices.filter { access[$0] != .none }
        self.rewritesEvents = access.contains(.rewrite)
        self.readsEventFields = access.contains(.read) || access.contains(.rewrite)
        self.chunkFilters = filters.indices.filter { filters[$0].wantsChunks }
        self.sharedLimitRuns = Self.sharedLimitRuns(filters)
        self.clientLeftFilters = filters.indices.filter { filters[$0].keepsUpstreamWhenClientLeaves }
        self.unhonoured = UnhonouredAnswers(filters: filters.count)
        self.hooks = filters.map(\.hooks)
        ExchangeStateSlot.assign(in: filters)
    }

    private static func sharedLimitRuns(_ filters: [any Filter]) -> [[any SharedLimitFilter]?] {
        var runs: [[any SharedLimitFilter]?] = Array(repeating: nil, count: filters.count)
        var found = false
        var i = 0
        while i < filters.count {
            var run: [any SharedLimitFilter] = []
            while i + run.count < filters.count, let member = filters[i + run.count] as? any SharedLimitFilter { run.append(member) }
            if run.count >= 2 {
                runs[i] = run
                found = true
            }
            i += max(1, run.count)
        }
        return found ? runs : []
    }
}
