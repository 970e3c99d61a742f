import Synchronization

/// A filter with per-exchange state of its own type, in the spirit of Pingora's `type CTX` and
/// `new_ctx`: the filter says what it keeps for one exchange, the exchange makes it at most once,
/// hands the same object to every hook that asks for it, and drops it when the exchange ends.
///
/// ```swift
/// final class CountTokens: StatefulFilter {
///     final class ExchangeState { var tokens = 0 }
///     let stateSlot = ExchangeStateSlot()
///     func makeState(for exchange: Exchange) -> ExchangeState { ExchangeState() }
///
///     func onEvent(_ exchange: Exchange, _ event: inout SSEEvent, _ info: LLMEventInfo) -> EventDecision {
///         if info.kind == .content { exchange.state(for: self).tokens += 1 }
///         return .pass
///     }
///     func onComplete(_ exchange: Exchange, _ outcome: Outcome) {
///         guard let state = exchange.existingState(for: self) else { return }  // no event came
///         record(state.tokens)
///     }
/// }
/// ```
///
/// - **When it is made:** on the first `exchange.state(for: self)` of an exchange, from any hook or
///   timer of this filter; `makeState(for:)` runs then, once. A filter whose hooks never ask (an
///   earlier filter refused the request) costs the exchange nothing, and `existingState(for:)` says
///   whether one was made, so `onComplete` releases only what was taken.
/// - **When it goes:** right after every filter's `onComplete` ran. Nothing the state holds (a
///   timer's handle, a closure) outlives the exchange's end, whoever still holds the exchange. After
///   the end, `existingState(for:)` is nil and `state(for:)` answers a fresh state that is not kept.
/// - **Threads:** made and used on the exchange's loop thread only, like every hook, so it needs no
///   lock.
/// - **Cost:** the lookup is one index into the exchange's states: the engine gives each stateful
///   filter of a chain its place (`stateSlot`) when it builds the chain, so no event searches or
///   casts at run time.
///
/// This replaces `exchange.local(for:_:)`, which looks a filter's state up by identity and casts
/// it on every call.
public protocol StatefulFilter: Filter {
    /// What the filter keeps for one exchange. A class: hooks change it in place.
    associatedtype ExchangeState: AnyObject

    /// This filter's place among the chain's stateful filters. Declare it as a stored constant,
    /// `let stateSlot = ExchangeStateSlot()`, and leave it to the engine.
    var stateSlot: ExchangeStateSlot { get }

    /// Makes the state for `exchange`, on the first `exchange.state(for: self)`. Loop thread.
    /// Read the request from `exchange` if the state depends on it; do not call back into the
    /// exchange's state from here.
    func makeState(for exchange: Exchange) -> ExchangeState
}

/// Where a `StatefulFilter`'s state sits in an exchange: an index the engine gives the filter when
/// it builds the chain (`ExchangeStateSlot.assign(in:)`), so that looking the state up is an index,
/// not a search. Until then (a filter called outside any chain, as in a unit test) the state is
/// still found, by a search.
public final class ExchangeStateSlot: Sendable {
    @usableFromInline let assigned: Atomic<Int>

    public init() { assigned = Atomic(-1) }

    /// The index, or -1 before the filter was placed in a chain.
    @inlinable var index: Int { assigned.load(ordering: .relaxed) }

    /// Gives the stateful filters of `filters` (one chain, in file order) their indices: 0, 1, …
    /// in order. Called once per chain as it is built, before any exchange runs on it; a filter
    /// instance placed in a second chain keeps the newer index, and the other chain's exchanges
    /// find its state by search.
    public static func assign(in filters: [any Filter]) {
        var next = 0
        for filter in filters {
            guard let stateful = filter as? any StatefulFilter else { continue }
            stateful.stateSlot.assigned.store(next, ordering: .relaxed)
            next += 1
        }
    }
}
