import SluiceFilterAPI

/// Where a `resumable` filter keeps its streams' events, so that a client that lost its
/// connection can read them again. `MemoryStreamStore` keeps them in this process;
/// `RedisStreamStore` also copies them to the `shared_state` Redis (a Redis Stream per stream,
/// with the window as its TTL), so that a resume landing on another instance finds them.
///
/// Threading: every call may come from any worker's loop thread at once, and must not block.
/// `worker` names the calling loop's worker (the exchange's `worker`): a store that talks to a
/// server sends on that worker's connection. The producing exchange's calls (`begin` … `end`)
/// answer at once, from what the store knows locally. `open` answers through a completion, which a
/// store may call at once (in this call) or later, on the caller's loop thread or another; the
/// filter hops to the exchange's loop itself.
public protocol ResumableStreamStore: AnyObject, Sendable {
    /// Applies new limits (a reload); kept streams stay.
    func apply(_ limits: StreamLimits)

    /// A new live stream `id`, bound to a digest of `credential` (never the credential itself), in
    /// `dialect` (its replays' error events use it).
    func begin(_ id: String, credential: String, dialect: StreamDialect, worker: Int)
    /// Forgets a stream whose id never reached a client (its attempt was retried).
    func discard(_ id: String, worker: Int)
    /// Keeps event number `seq` of stream `id`, whose `id:` is `eventID`, as `bytes` (wire form).
    func append(_ id: String, seq: Int, eventID: String, bytes: [UInt8], worker: Int) -> StreamTable.AppendAnswer
    /// The stream's client left and its upstream runs on; false: not kept, cancel the upstream.
    func originLeft(_ id: String) -> Bool
    /// How far a detached upstream may run on.
    func detachedCheck(_ id: String) -> StreamTable.DetachedAnswer
    /// The stream ended, as `ending` says.
    func end(_ id: String, _ ending: StreamEnding, worker: Int)

    /// Opens a resume of `id` for `credential` after `lastEventID`. On `.opened`, `reader` (made
    /// by the caller with its wake) is registered: it is woken whenever the stream changes, until
    /// `close`.
    func open(_ reader: StreamReader, credential: String, lastEventID: String?, worker: Int,
              _ answer: @escaping @Sendable (StreamTable.OpenAnswer) -> Void)
    /// What `reader` has not read yet, from its cursor; moves the cursor past what it answers.
    /// Answers at once: a store that must fetch events from a server fetches them before it wakes
    /// the reader. The reader's loop thread.
    func read(_ reader: StreamReader) -> StreamTable.ReadAnswer
    /// The reader is done (its exchange ended): no more wakes; a live stream loses a reader. The
    /// reader's loop thread.
    func close(_ reader: StreamReader)
}
