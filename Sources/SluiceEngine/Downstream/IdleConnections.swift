/// A worker's client connections that have no exchange in progress (waiting for their first
/// request, or idle between keep-alive requests), oldest first: the ones to close when the proxy
/// is at `limits.max_connections` and a new client arrives. Loop thread only.
///
/// An intrusive doubly linked list through `DownstreamConnection.idlePrevious` and `idleNext`, so
/// joining, leaving and taking the oldest cost O(1) and no allocation. The list does not keep its
/// members alive: the worker's connection table does, and a connection leaves the list before it
/// leaves the table.
struct IdleConnections {
    private unowned(unsafe) var oldest: DownstreamConnection?
    private unowned(unsafe) var newest: DownstreamConnection?
    private(set) var count = 0

    /// Adds `connection` as the newest idle one. It must not be in the list.
    mutating func append(_ connection: DownstreamConnection) {
        precondition(!connection.isIdleListed)
        connection.isIdleListed = true
        connection.idlePrevious = newest
        connection.idleNext = nil
        if let newest { newest.idleNext = connection } else { oldest = connection }
        newest = connection
        count += 1
    }

    /// Removes `connection` if it is in the list; otherwise does nothing.
    mutating func remove(_ connection: DownstreamConnection) {
        guard connection.isIdleListed else { return }
        connection.isIdleListed = false
        if let previous = connection.idlePrevious { previous.idleNext = connection.idleNext } else { oldest = connection.idleNext }
        if let next = connection.idleNext { next.idlePrevious = connection.idlePrevious } else { newest = connection.idlePrevious }
        connection.idlePrevious = nil
        connection.idleNext = nil
        count -= 1
    }

    /// The connection idle the longest, still in the list; nil when none is idle.
    var first: DownstreamConnection? { oldest }
}
