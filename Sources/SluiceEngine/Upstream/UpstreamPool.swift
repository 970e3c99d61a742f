import SluiceIO
import SluiceFilterAPI

/// Idle keep-alive connections, per endpoint, for one worker. Loop thread only.
final class UpstreamPool {
    /// One endpoint's idle connections and streams in flight on this worker.
    private struct Slot {
        var idle: [UpstreamConnection] = []
        var active = 0
    }

    private let loop: EventLoop
    private let clock: any SluiceClock
    // Loop thread only, touched several times per request: not checked for exclusivity at run time.
    /// Where each endpoint's slot is, by endpoint id (a request looked up its endpoint five times).
    @exclusivity(unchecked) private var positions = PositionsByID()
    @exclusivity(unchecked) private var slots: [Slot] = []

    init(loop: EventLoop, clock: any SluiceClock) {
        self.loop = loop
        self.clock = clock
    }

    /// Streams in flight per endpoint id on this worker (for least-active balancing): nil for an
    /// endpoint this worker never used.
    struct ActiveStreams {
        fileprivate let pool: UpstreamPool
        subscript(endpointID: String) -> Int? { pool.position(of: endpointID).map { pool.slots[$0].active } }
    }

    var active: ActiveStreams { ActiveStreams(pool: self) }

    private func position(of id: String) -> Int? { positions.position(of: id) }

    private func position(adding id: String) -> Int {
        let (position, added) = positions.position(adding: id)
        if added { slots.append(Slot()) }
        return position
    }

    /// A reusable idle connection to `endpoint`, most recently used first.
    func takeIdle(_ endpoint: UpstreamEndpoint) -> UpstreamConnection? {
        guard let position = position(of: endpoint.id) else { return nil }
        // Popped in place: one lookup, and no copy of the list to write back.
        while let connection = slots[position].idle.popLast() {
            connection.idle.stop()
            if connection.socket.isOpen { return connection }
        }
        return nil
    }

    /// Keeps `connection` for reuse, or closes it when the pool for its endpoint is full.
    func putIdle(_ connection: UpstreamConnection, maxIdle: Int, idleTimeout: Duration) {
        let position = position(adding: connection.endpoint.id)
        guard connection.isReusable, slots[position].idle.count < maxIdle else {
            connection.close()
            return
        }
        connection.delegate = nil
        connection.markReused()
        slots[position].idle.append(connection)
        // Made once per connection and kept: the connection calls it only while no exchange uses it.
        if connection.onIdleClose == nil {
            // Unowned, not weak: a weak reference would give the pool a side table, and every retain
            // of it the runtime's slow path. The pool lives as long as its worker, past its connections.
            connection.onIdleClose = { [unowned self, unowned connection] in evict(connection) }
        }
        connection.idle.start(idleTimeout, now: clock.now()) {
            SluiceIO.Timer(loop: loop) { [unowned self, unowned connection] _ in idleTimerFired(connection) }
        }
    }

    /// Closes a connection idle in the pool for its whole timeout.
    private func idleTimerFired(_ connection: UpstreamConnection) {
        if connection.idle.fired(now: clock.now()) { evict(connection) }
    }

    private func evict(_ connection: UpstreamConnection) {
        if let position = position(of: connection.endpoint.id) {
            slots[position].idle.removeAll { $0 === connection }
        }
        connection.onIdleClose = nil
        connection.close()
    }

    func streamStarted(_ endpointID: String) { slots[position(adding: endpointID)].active += 1 }
    func streamEnded(_ endpointID: String) {
        // An endpoint never started here counts from 1, as the dictionary's default did.
        if let position = position(of: endpointID) {
            slots[position].active -= 1
        } else {
            _ = position(adding: endpointID)
        }
    }

    func idleCount(_ endpointID: String) -> Int { position(of: endpointID).map { slots[$0].idle.count } ?? 0 }

    /// Closes idle connections to endpoints not in `kept` (removed by a reload). Loop thread.
    func closeIdle(except kept: Set<String>) {
        for position in slots.indices where !kept.contains(positions.ids[position]) {
            let list = slots[position].idle
            slots[position].idle = []
            for c in list { c.close() }
        }
    }

    func closeAll() {
        for position in slots.indices {
            let list = slots[position].idle
            slots[position].idle = []
            for c in list { c.close() }
        }
    }
}
