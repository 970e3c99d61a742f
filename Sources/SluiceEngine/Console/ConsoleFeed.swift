import SluiceIO
import Synchronization

/// How the console's feed is doing, for tests and operators: followers now, snapshots sent and
/// dropped (a follower over its watermark), and the largest backlog a follower had after a send.
public struct ConsoleFeedStats: Sendable, Equatable {
    public var followers = 0
    public var sent = 0
    public var dropped = 0
    public var largestBacklog = 0
}

/// The browsers following `/admin/events`, and the ticker that sends them a snapshot every
/// `interval` while at least one follows. Control loop only.
///
/// One snapshot is gathered per tick for all followers, and the next tick is armed only once it was
/// sent, so a slow gathering (a busy worker) delays the feed rather than piling requests up. A
/// follower whose backlog is over `AdminEventStream.highWatermark` misses snapshots until it reads.
final class ConsoleFeed {
    /// Gathers one snapshot's JSON and calls back on the control loop.
    typealias Gather = (_ done: @escaping (String) -> Void) -> Void

    private let loop: EventLoop
    private let interval: Duration
    private let gather: Gather
    private var followers: [ObjectIdentifier: AdminEventStream] = [:]
    private var ticker: Timer?
    private var gathering = false
    /// Written on the control loop, read from any thread.
    let stats = Mutex(ConsoleFeedStats())

    init(loop: EventLoop, interval: Duration, gather: @escaping Gather) {
        self.loop = loop
        self.interval = interval
        self.gather = gather
    }

    /// The most browsers followed at once: each costs a snapshot per tick and up to the watermark
    /// of memory, so a local client opening connections in a loop cannot make that unbounded.
    static let maxFollowers = 64

    /// Browsers following now.
    var count: Int { followers.count }

    /// False once `maxFollowers` follow.
    var hasRoom: Bool { followers.count < Self.maxFollowers }

    /// Starts sending snapshots to `stream`, the first one at once, until it closes.
    func follow(_ stream: AdminEventStream) {
        let id = ObjectIdentifier(stream)
        followers[id] = stream
        stats.withLock { $0.followers = followers.count }
        stream.whenClosed { [weak self] in
            guard let self else { return }
            followers[id] = nil
            stats.withLock { $0.followers = self.followers.count }
        }
        stream.comment("sluice console")
        _ = stream.send(event: "hello", data: "{\"interval_ms\":\(interval.nanosecondsClamped / 1_000_000)}")
        if !gathering {
            ticker?.cancel()
            tick()
        }
    }

    /// Ends the feed: no more ticks. The streams themselves close with the admin listener.
    func stop() {
        ticker?.cancel()
        ticker = nil
        followers.removeAll()
        stats.withLock { $0.followers = 0 }
    }

    private func tick() {
        guard !followers.isEmpty else { return }
        gathering = true
        gather { [weak self] json in
            guard let self else { return }
            gathering = false
            var sent = 0, dropped = 0, largest = 0
            for stream in followers.values {
                if stream.send(event: "snapshot", data: json) { sent += 1 } else { dropped += 1 }
                largest = max(largest, stream.backlog)
            }
            stats.withLock { s in
                s.sent += sent
                s.dropped += dropped
                s.largestBacklog = max(s.largestBacklog, largest)
            }
            guard !followers.isEmpty else { return }
            let timer = ticker ?? Timer(loop: loop) { [weak self] _ in self?.tick() }
            ticker = timer
            timer.arm(after: interval)
        }
    }
}
