import LoadCore
import SluiceIO
import Synchronization

/// Counters shared by every worker thread, read by the main thread while the run goes on.
final class Shared: Sendable {
    /// hold: streams that received their first token and have not ended.
    let live = Atomic<Int>(0)
    /// Connections whose work is over (done, or given up).
    let finishedConnections = Atomic<Int>(0)
    let stopIssuing = Atomic<Bool>(false)
}

/// What one worker thread measured. Read by the main thread only after the worker's loop finished.
struct WorkerStats {
    var started = 0
    var completed = 0
    var failed = 0
    var unfinished = 0
    var failures: [String: Int] = [:]
    var ttft: [Double] = []      // µs, request written → first content event
    var ttftFirst: [Double] = [] // the same, for the first request of each connection only (includes connecting)
    var gaps: [Double] = []      // µs, between consecutive content events of one stream
    var latency: [Double] = []   // µs, request written → response complete
    var dataEvents = 0
    var contentEvents = 0
    var bodyBytes = 0
    /// hold: streams that ended (well or not) while they were supposed to be held.
    var endedWhileHeld = 0

    static let maxSamples = 2_000_000

    mutating func fail(_ reason: String) {
        failed += 1
        failures[reason, default: 0] += 1
    }

    mutating func merge(_ o: WorkerStats) {
        started += o.started; completed += o.completed; failed += o.failed; unfinished += o.unfinished
        for (k, v) in o.failures { failures[k, default: 0] += v }
        ttft += o.ttft; ttftFirst += o.ttftFirst; gaps += o.gaps; latency += o.latency
        dataEvents += o.dataEvents; contentEvents += o.contentEvents; bodyBytes += o.bodyBytes
        endedWhileHeld += o.endedWhileHeld
    }
}

/// One event-loop thread driving its share of the connections.
final class Worker: @unchecked Sendable {
    let loop = EventLoop()
    let options: Options
    let shared: Shared
    let request: [UInt8]
    var stats = WorkerStats()
    private var connections: [LoadConnection] = []
    private let connectionCount: Int
    private let firstIndex: Int

    init(options: Options, shared: Shared, request: [UInt8], firstIndex: Int, count: Int) {
        self.options = options
        self.shared = shared
        self.request = request
        self.firstIndex = firstIndex
        self.connectionCount = count
    }

    /// Runs the loop on a new thread and opens this worker's connections, spread over the ramp.
    func start(name: String) {
        let loop = self.loop
        WorkerThread.start(name: name) { loop.run() }
        loop.execute { [self] in
            for i in 0..<connectionCount {
                let c = LoadConnection(worker: self)
                connections.append(c)
                let global = firstIndex + i
                let delay = options.ramp * Double(global) / Double(max(1, options.concurrency))
                if delay <= 0 { c.open() } else { loop.schedule(after: .microseconds(Int64(delay * 1e6))) { c.open() } }
            }
        }
    }

    /// Ends every connection still open (counted as unfinished), then stops the loop. Any thread.
    func stop() {
        loop.execute { [self] in
            for c in connections { c.abandon() }
            connections.removeAll()
            loop.stop()
        }
    }
}
