import SluiceHTTP
import Synchronization

/// What the mock server saw, for tests to assert on: every request, and how each response ended.
/// Thread-safe: the server writes from its loop thread, tests read from theirs.
public final class MockJournal: Sendable {
    /// One request the mock received and what became of its response.
    public struct Entry: Sendable {
        /// The request head as the mock received it (what the proxy sent upstream).
        public var head: HTTPRequestHead
        /// The request body as received, chunk framing removed.
        public var body: [UInt8]
        /// Which connection carried it (0, 1, …); equal ids mean keep-alive reuse.
        public var connection: Int
        /// Response body steps written so far (one per event for streams).
        public var bodyStepsSent: Int
        /// Body steps the plan had in all.
        public var bodyStepsPlanned: Int
        /// How the response ended; nil while it is still being sent.
        public var ending: Ending?
        /// `body` decoded as UTF-8.
        public var bodyText: String { String(decoding: body, as: UTF8.self) }
    }

    /// How a response of the mock ended.
    public enum Ending: Sendable, Equatable {
        /// The plan ran to its end.
        case finished
        /// The plan closed or reset the connection on purpose (a fault).
        case faulted
        /// The peer (the proxy) closed the connection before the plan was over: the request was cancelled.
        case cancelledByPeer
    }

    private let state = Mutex<(entries: [Entry], connections: Int)>(([], 0))

    /// An empty journal.
    public init() {}

    /// Every request so far, oldest first. Any thread.
    public var entries: [Entry] { state.withLock { $0.entries } }
    /// Connections accepted so far. Any thread.
    public var connectionCount: Int { state.withLock { $0.connections } }

    func connectionOpened() -> Int {
        state.withLock { s in
            s.connections += 1
            return s.connections - 1
        }
    }

    func record(_ entry: Entry) -> Int {
        state.withLock { s in
            s.entries.append(entry)
            return s.entries.count - 1
        }
    }

    func update(_ index: Int, _ change: (inout Entry) -> Void) {
        state.withLock { s in change(&s.entries[index]) }
    }

    /// Polls until `condition` holds for the entries, or `timeout` passes. Returns whether it held.
    public func wait(timeout: Duration = .seconds(10), until condition: ([Entry]) -> Bool) -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if condition(entries) { return true }
            usleepShort()
        }
        return condition(entries)
    }
}

#if canImport(Glibc)
import Glibc
#endif
private func usleepShort() { usleep(2_000) }
