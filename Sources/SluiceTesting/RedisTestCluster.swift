import Foundation
import SluiceRedis

/// A real Redis Cluster for tests: `count` `redis-server` nodes in cluster mode on loopback, the
/// 16,384 slots split evenly between them, no replicas. Stopped with its nodes. Owned by one test
/// thread.
public final class RedisTestCluster {
    public let nodes: [RedisTestServer]
    private let configFiles: [String]

    /// Starts the nodes, gives each its share of the slots, introduces them, and waits (up to 15 s)
    /// until every node says the cluster is ok.
    public init(nodes count: Int = 3) throws {
        var nodes: [RedisTestServer] = []
        var files: [String] = []
        var buses: [Int] = []
        for _ in 0..<count {
            let file = NSTemporaryDirectory() + "sluice-cluster-\(UUID().uuidString).conf"
            // The bus port is given rather than left at port + 10000, which may be past 65535.
            let bus = try RedisTestServer.freeLoopbackPort()
            nodes.append(try RedisTestServer(arguments: ["--cluster-enabled", "yes", "--cluster-config-file", file,
                                                        "--cluster-port", String(bus), "--cluster-node-timeout", "5000"]))
            files.append(file)
            buses.append(bus)
        }
        self.nodes = nodes
        configFiles = files
        let share = RedisKeySlot.count / count
        for (i, node) in nodes.enumerated() {
            let last = i == count - 1 ? RedisKeySlot.count - 1 : (i + 1) * share - 1
            try node.command("CLUSTER", "ADDSLOTSRANGE", String(i * share), String(last))
        }
        for i in 1..<count {
            try nodes[0].command("CLUSTER", "MEET", "127.0.0.1", String(nodes[i].port), String(buses[i]))
        }
        let deadline = ContinuousClock.now + .seconds(15)
        while ContinuousClock.now < deadline {
            if try nodes.allSatisfy({ try $0.command("CLUSTER", "INFO").text?.contains("cluster_state:ok") == true }) { return }
            Thread.sleep(forTimeInterval: 0.05)
        }
        throw TestClientError.timedOut("a Redis Cluster of \(count) nodes to be ok")
    }

    deinit {
        for node in nodes { node.stop() }
        for file in configFiles { try? FileManager.default.removeItem(atPath: file) }
    }

    /// The node id of `nodes[index]`.
    public func id(_ index: Int) throws -> String {
        try nodes[index].command("CLUSTER", "MYID").text ?? ""
    }

    /// The index of the node serving `slot`, as `nodes[0]` sees it.
    public func owner(of slot: Int) throws -> Int {
        if case .array(let ranges) = try nodes[0].command("CLUSTER", "SLOTS") {
            for case .array(let range) in ranges where range.count >= 3 {
                guard let low = range[0].integerValue, let high = range[1].integerValue, (low...high).contains(Int64(slot)),
                      case .array(let master) = range[2], master.count >= 2, let port = master[1].integerValue,
                      let index = nodes.firstIndex(where: { $0.port == Int(port) }) else { continue }
                return index
            }
        }
        throw TestClientError.connectFailed("no node serves slot \(slot)")
    }

    /// Starts moving `slot` from node `from` to node `to` and moves its keys: from here until
    /// `finishMoving`, the old node answers ASK for the slot's keys and the new one serves them
    /// after ASKING.
    public func startMoving(_ slot: Int, from: Int, to: Int) throws {
        try nodes[to].command("CLUSTER", "SETSLOT", String(slot), "IMPORTING", try id(from))
        try nodes[from].command("CLUSTER", "SETSLOT", String(slot), "MIGRATING", try id(to))
        while true {
            guard case .array(let keys) = try nodes[from].command("CLUSTER", "GETKEYSINSLOT", String(slot), "100"),
                  !keys.isEmpty else { return }
            let names = keys.compactMap(\.text)
            try nodes[from].command(["MIGRATE", "127.0.0.1", String(nodes[to].port), "", "0", "5000", "KEYS"] + names)
        }
    }

    /// Ends the move: every node now says `slot` is served by node `to` (the old one answers MOVED).
    public func finishMoving(_ slot: Int, to: Int) throws {
        let target = try id(to)
        for node in nodes { try node.command("CLUSTER", "SETSLOT", String(slot), "NODE", target) }
    }
}
