/// A resume served from Redis: what `RedisStreamStore` fetched for one reader and has not handed
/// out yet, and where the next fetch starts. Lives in its `StreamReader`; touched only on the
/// reader's loop thread (fetches are made and answered there).
final class SharedStreamFollow {
    /// The worker whose Redis connection fetches.
    let worker: Int
    /// The stream's keys (`RedisStreamKeys`).
    let keys: [String]
    /// Events fetched and not read yet, in wire form, in order.
    var buffer: [UInt8] = []
    /// The sequence number of the next event to fetch (and, once `buffer` is read, to hand out).
    var cursor: Int
    /// How the stream ended, once every event was fetched.
    var ending: StreamEnding?
    /// Why the rest cannot be read (it expired, was trimmed, or Redis stopped answering).
    var loss: StreamLoss?
    /// Fetches in a row that failed; past `RedisStreamStore.followFailureLimit` the reader is lost.
    var failures = 0

    init(worker: Int, keys: [String], cursor: Int) {
        self.worker = worker
        self.keys = keys
        self.cursor = cursor
    }

    /// Nothing more will be fetched.
    var isFinished: Bool { ending != nil || loss != nil }
}
