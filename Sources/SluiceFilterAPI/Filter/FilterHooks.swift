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
    @inlinable public init(rawValue: UInt16) { self.rawValue = rawValue }

    // The members are inlinable constants, not stored `static let`s: each walk tests one per
    // filter, and a stored one is reached through a lazy-initialization call from another module.

    /// `Filter.onRequest`.
    @inlinable public static var onRequest: FilterHooks { FilterHooks(rawValue: 1 << 0) }
    /// `Filter.onRequestBody`.
    @inlinable public static var onRequestBody: FilterHooks { FilterHooks(rawValue: 1 << 1) }
    /// `Filter.selectUpstream`.
    @inlinable public static var selectUpstream: FilterHooks { FilterHooks(rawValue: 1 << 2) }
    /// `Filter.onUpstreamConnected`.
    @inlinable public static var onUpstreamConnected: FilterHooks { FilterHooks(rawValue: 1 << 3) }
    /// `Filter.onUpstreamError`.
    @inlinable public static var onUpstreamError: FilterHooks { FilterHooks(rawValue: 1 << 4) }
    /// `Filter.onResponseHead`.
    @inlinable public static var onResponseHead: FilterHooks { FilterHooks(rawValue: 1 << 5) }
    /// `Filter.onClientBlocked`.
    @inlinable public static var onClientBlocked: FilterHooks { FilterHooks(rawValue: 1 << 6) }
    /// `Filter.onClientDrained`.
    @inlinable public static var onClientDrained: FilterHooks { FilterHooks(rawValue: 1 << 7) }
    /// `Filter.onComplete`.
    @inlinable public static var onComplete: FilterHooks { FilterHooks(rawValue: 1 << 8) }
    /// `Filter.onAttemptDropped`.
    @inlinable public static var onAttemptDropped: FilterHooks { FilterHooks(rawValue: 1 << 9) }
    /// Every hook: what a filter that does not say gets called for.
    @inlinable public static var all: FilterHooks { FilterHooks(rawValue: 0x3FF) }
}
