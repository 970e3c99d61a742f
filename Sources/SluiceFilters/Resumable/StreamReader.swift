/// One resume of a stream: where its reader is in the stream, and how to tell it that more is
/// there. Made by a store's `open`; its state is the store's, changed under the store's lock only
/// (for a reader that follows the stream in Redis, `follow` set, on the reader's loop thread only).
public final class StreamReader: @unchecked Sendable {
    /// The stream read.
    public let streamID: String
    /// Called, on any thread, when the stream changed (events, its end, its loss) and the reader
    /// had not been told yet: the reader then reads (on its own thread). At most one call is
    /// pending at a time.
    let wake: @Sendable () -> Void
    /// The sequence number of the next event to hand out.
    var cursor: Int = 1
    /// Counted among the stream's live readers (it joined while the stream was live).
    var counted = false
    /// A wake was sent and the reader has not read since.
    var wakePending = false
    /// Closed: no more wakes, nothing more to read.
    var closed = false
    /// Set by `RedisStreamStore` when the stream is read from Redis (another instance produced it,
    /// or this one no longer keeps it); nil for a reader of this process's memory.
    var follow: SharedStreamFollow?

    /// A reader of `streamID`; `wake` as above.
    public init(streamID: String, wake: @escaping @Sendable () -> Void) {
        self.streamID = streamID
        self.wake = wake
    }
}
