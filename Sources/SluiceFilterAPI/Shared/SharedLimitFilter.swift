/// A filter whose `onRequest` decides from one call to the shared store (a shared rate limit, a
/// stream lease). When several such filters follow each other in a chain, the engine asks each for
/// its call just before the first of them runs and makes all of them in one round trip: one script,
/// run atomically, that makes the calls in file order and stops after the first refusal. The
/// filters' `onRequest` hooks then run as usual and find their answers already there, so a run of
/// shared filters costs a request one round trip to Redis instead of one per filter.
///
/// The contract, loop thread of the exchange throughout:
/// 1. `sharedCall(for:)` runs just before the run's first `onRequest`. It answers the call its
///    `onRequest` would make now, or nil when it would make none (not shared, or it would refuse
///    before asking). It may record per-exchange state; what it asks must not depend on anything
///    the earlier filters of the run change in their `onRequest`.
/// 2. `sharedCallAnswered(_:_:)` runs once for every call given, when its answer is known: the
///    script's values, a failure (then every call of the batch fails alike), or nil when the call
///    was not made because an earlier one was refused. It runs even when the exchange has already
///    ended (the client left meanwhile; `onComplete` has run): whatever the answer granted must then
///    be given back at once. Otherwise it keeps the answer for `onRequest`, and records whatever
///    `onComplete` must give back, since a filter after it may end the exchange before its
///    `onRequest` runs.
/// 3. `onRequest` uses the kept answer instead of calling the store. When there is none (nil above,
///    or the filter runs again later) it makes its call itself.
public protocol SharedLimitFilter: Filter {
    /// The store call `onRequest` would make for `exchange` now, or nil.
    func sharedCall(for exchange: Exchange) -> SharedCall?
    /// The answer to the call `sharedCall(for:)` gave; nil when it was not made.
    func sharedCallAnswered(_ exchange: Exchange, _ answer: SharedStoreAnswer?)
}
