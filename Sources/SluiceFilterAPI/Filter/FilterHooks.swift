/// Which of the chain-walk hooks a filter implements (`Filter.hooks`), so the engine walks past the
/// others without calling them. The per-event hooks have their own switches (`wantsEvents`,
/// `wantsChunks`, `keepsUpstreamWhenClientLeaves`) and are not listed here.
///
/// Why: each call of a hook a filter does not implement still costs the engine about 150
/// instructions (the call through the protocol, the bookkeeping of which filter runs, the answer's
/// check). A chain of eight filters walks nine hooks per request, most of them empty.
public struct FilterHooks: OptionSet, Sendable, Hashable {
    public let rawValue: UInt16
    /// The set whose bits are `rawValue`.
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    /// `Filter.onRequest`.
    public static let onRequest = FilterHooks(rawValue: 1 << 0)
    /// `Filter.onRequestBody`.
    public static let onRequestBody = FilterHooks(rawValue: 1 << 1)
    /// `Filter.selectUpstream`.
    public static let selectUpstream = FilterHooks(rawValue: 1 << 2)
    /// `Filter.onUpstreamConnected`.
    public static let onUpstreamConnected = FilterHooks(rawValue: 1 << 3)
    /// `Filter.onUpstreamError`.
    public static let onUpstreamError = FilterHooks(rawValue: 1 << 4)
    /// `Filter.onResponseHead`.
    public static let onResponseHead = FilterHooks(rawValue: 1 << 5)
    /// `Filter.onClientBlocked`.
    public static let onClientBlocked = FilterHooks(rawValue: 1 << 6)
    /// `Filter.onClientDrained`.
    public static let onClientDrained = FilterHooks(rawValue: 1 << 7)
    /// `Filter.onComplete`.
    public static let onComplete = FilterHooks(rawValue: 1 << 8)
    /// `Filter.onAttemptDropped`.
    public static let onAttemptDropped = FilterHooks(rawValue: 1 << 9)
    /// Every hook: what a filter that does not say gets called for.
    public static let all = FilterHooks(rawValue: 0x3FF)
}
