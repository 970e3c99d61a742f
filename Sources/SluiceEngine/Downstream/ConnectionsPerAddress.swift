import Synchronization

/// Client connections open per IP address across every worker and listener, for
/// `limits.max_connections_per_ip`. Any thread.
///
/// The counts are split over shards by the address's hash, each behind its own lock, so workers
/// accepting at the same moment rarely wait for each other. The cost per accepted connection is
/// one hash of the address text and one short lock, at the accept and again at the close; none per
/// event. An address is forgotten when its last connection closes.
final class ConnectionsPerAddress: Sendable {
    private final class Shard: Sendable {
        let counts = Mutex<[String: Int]>([:])
    }

    private let shards: [Shard]

    init(shardCount: Int = 16) {
        shards = (0..<max(1, shardCount)).map { _ in Shard() }
    }

    private func shard(for address: String) -> Shard {
        shards[Int(UInt(bitPattern: address.hashValue) % UInt(shards.count))]
    }

    /// Counts one more connection from `address` unless `limit` are open from it already; answers
    /// whether it was counted. A counted connection must be `release`d exactly once.
    func take(_ address: String, limit: Int) -> Bool {
        shard(for: address).counts.withLock { counts in
            let open = counts[address, default: 0]
            guard open < limit else { return false }
            counts[address] = open + 1
            return true
        }
    }

    /// Forgets one connection `take` counted for `address`.
    func release(_ address: String) {
        shard(for: address).counts.withLock { counts in
            guard let open = counts[address] else { return }
            counts[address] = open > 1 ? open - 1 : nil
        }
    }

    /// Connections counted for `address` now (for tests and diagnostics).
    func count(_ address: String) -> Int {
        shard(for: address).counts.withLock { $0[address, default: 0] }
    }
}
