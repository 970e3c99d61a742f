import SluiceIO

/// Idle keep-alive connections, per endpoint, for one worker. Loop thread only.
final class UpstreamPool {
    private let loop: EventLoop
    // Loop thread only, touched twice per request: not checked for exclusivity at run time.
    @exclusivity(unchecked) private var idle: [String: [UpstreamConnection]] = [:]
    /// Streams in flight per endpoint id on this worker (for least-active balancing).
    @exclusivity(unchecked) private(set) var active: [String: Int] = [:]

    init(loop: EventLoop) { self.loop = loop }

    /// A reusable idle connection to `endpoint`, most recently used first.
    func takeIdle(_ endpoint: UpstreamEndpoint) -> UpstreamConnection? {
        // Popped in place: one lookup, and no copy of the list to write back.
        while let connection = idle[endpoint.id]?.popLast() {
            connection.idleTimer?.cancel()
            connection.onIdleClose = nil
            if connection.socket.isOpen { return connection }
        }
        return nil
    }

    /// Keeps `connection` for reuse, or closes it when the pool for its endpoint is full.
    func putIdle(_ connection: UpstreamConnection, maxIdle: Int, idleTimeout: Duration) {
        let id = connection.endpoint.id
        guard connection.isReusable, (idle[id]?.count ?? 0) < maxIdle else {
            connection.close()
            return
        }
        connection.delegate = nil
        connection.markReused()
        idle[id, default: []].append(connection)
        connection.onIdleClose = { [weak self, unowned connection] in self?.evict(connection) }
        // One timer per connection, armed each time it comes back: not a new one (an event, a
        // closure) per request.
        let timer = connection.idleTimer ?? SluiceIO.Timer(loop: loop) { [weak self, unowned connection] _ in self?.evict(connection) }
        timer.arm(after: idleTimeout)
        connection.idleTimer = timer
    }

    private func evict(_ connection: UpstreamConnection) {
        let id = connection.endpoint.id
        idle[id]?.removeAll { $0 === connection }
        connection.onIdleClose = nil
        connection.close()
    }

    func streamStarted(_ endpointID: String) { active[endpointID, default: 0] += 1 }
    func streamEnded(_ endpointID: String) { active[endpointID, default: 1] -= 1 }

    func idleCount(_ endpointID: String) -> Int { idle[endpointID]?.count ?? 0 }

    /// Closes idle connections to endpoints not in `kept` (removed by a reload). Loop thread.
    func closeIdle(except kept: Set<String>) {
        for (id, list) in idle where !kept.contains(id) {
            for c in list { c.close() }
            idle[id] = nil
        }
    }

    func closeAll() {
        for list in idle.values { for c in list { c.close() } }
        idle.removeAll()
    }
}
