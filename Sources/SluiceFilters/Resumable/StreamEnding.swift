/// How a kept stream ended, which is how every reader's replay ends.
public enum StreamEnding: Sendable, Equatable {
    /// The upstream ended it properly (an upstream error event among its events included): the
    /// replay ends with the message's proper end.
    case complete
    /// It was cut (the upstream failed, a timer or a budget cancelled it, its client left and
    /// nobody kept it): the replay ends as the original did, with an error event and a cut.
    case cut(String)
}

/// Why a stream, or the part of it a reader asks for, is not kept (any longer).
public enum StreamLoss: String, Sendable, Equatable {
    /// `window` passed since the stream ended, or since anyone read it.
    case expired
    /// Finished streams were dropped, oldest first, to make room under `max_total_bytes`.
    case evicted
    /// A live stream that did not fit under `max_total_bytes` lost resumability.
    case memoryCap = "memory_cap"
    /// One event was larger than `max_bytes`.
    case tooLarge = "too_large"
    /// The stream is kept, but no longer from the event asked for: it keeps its newest `max_bytes`.
    case outOfWindow = "out_of_window"
    /// Only in a shared store: the copy of the stream in Redis missed an event (a write failed or
    /// the server lost its data), so it can no longer be read whole there.
    case incomplete
    /// Only in a shared store: the server stopped answering while a reader followed the stream.
    case unavailable

    /// What a client is told, after "stream ID".
    public var explanation: String {
        switch self {
        case .expired: return "expired: it ended, or nobody read it, longer ago than the resumable window"
        case .evicted: return "was dropped to make room for newer streams"
        case .memoryCap: return "could not be kept: the proxy's memory cap for kept streams was reached"
        case .tooLarge: return "could not be kept: one of its events was larger than max_bytes"
        case .outOfWindow: return "no longer keeps the events after the one asked for (it keeps its newest max_bytes)"
        case .incomplete: return "could not be kept whole in the store shared by the instances"
        case .unavailable: return "could not be read further: the store shared by the instances does not answer"
        }
    }
}
