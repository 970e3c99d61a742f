#if canImport(Glibc)
import Glibc
#endif

/// Many client connections from one loopback source address that send nothing (or a little) and
/// read nothing: a slowloris crowd. Raw non-blocking descriptors, so thousands cost no buffers in
/// the test. Closes every descriptor exactly once, in `close()` or at deinit. One thread.
final class IdleConnectionCrowd {
    private(set) var descriptors: [Int32] = []
    /// Connections the proxy has closed (seen by `countClosedByPeer`), by index in `descriptors`.
    private var closedByPeer: Set<Int> = []

    /// Opens `count` connections from `source` (an IPv4 loopback address such as 127.0.0.2, bound
    /// before connecting) to `127.0.0.1:port`, giving up at `deadline`. Connections in progress
    /// count as opened: the kernel completes them against the listen backlog.
    init(count: Int, from source: String, port: Int, deadline: ContinuousClock.Instant) {
        descriptors.reserveCapacity(count)
        var local = sockaddr_in()
        local.sin_family = sa_family_t(AF_INET)
        inet_pton(AF_INET, source, &local.sin_addr)
        var remote = sockaddr_in()
        remote.sin_family = sa_family_t(AF_INET)
        remote.sin_port = in_port_t(UInt16(port)).bigEndian
        inet_pton(AF_INET, "127.0.0.1", &remote.sin_addr)
        while descriptors.count < count, ContinuousClock.now < deadline {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            guard fd >= 0 else { break }
            // Pick the port at connect, by the whole address pair: a bind that picks it alone
            // searches the ports in use and makes thousands of connections quadratic.
            var one: Int32 = 1
            setsockopt(fd, Int32(IPPROTO_IP), 24 /* IP_BIND_ADDRESS_NO_PORT */, &one, socklen_t(MemoryLayout<Int32>.size))
            let bound = withUnsafePointer(to: &local) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            let connected = withUnsafePointer(to: &remote) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard bound == 0, connected == 0 || errno == EINPROGRESS else {
                Glibc.close(fd)
                break
            }
            descriptors.append(fd)
        }
    }

    deinit { close() }

    /// Sends `bytes` on every connection (best effort: a connection whose buffer is full skips).
    func sendOnEach(_ bytes: [UInt8]) {
        for fd in descriptors { _ = send(fd, bytes, bytes.count, Int32(MSG_NOSIGNAL)) }
    }

    /// Connections the peer closed so far (FIN or RST), checking each open one once without
    /// waiting; data that arrived is read and dropped.
    func countClosedByPeer() -> Int {
        var buffer = [UInt8](repeating: 0, count: 4096)
        for (i, fd) in descriptors.enumerated() where !closedByPeer.contains(i) {
            while true {
                let n = recv(fd, &buffer, buffer.count, Int32(MSG_DONTWAIT))
                if n > 0 { continue }
                if n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) { closedByPeer.insert(i) }
                break
            }
        }
        return closedByPeer.count
    }

    /// Waits for the peer to close connections (on `poll`, at most until `deadline`) until
    /// `condition` holds for the count of connections it closed; answers the last count.
    func waitForClosed(until deadline: ContinuousClock.Instant, _ condition: (Int) -> Bool) -> Int {
        var closed = countClosedByPeer()
        while !condition(closed) {
            let remaining = deadline - .now
            guard remaining > .zero else { break }
            var watched = descriptors.indices.filter { !closedByPeer.contains($0) }
                .map { pollfd(fd: descriptors[$0], events: Int16(POLLIN), revents: 0) }
            let milliseconds = Int32(clamping: remaining.components.seconds * 1000 + remaining.components.attoseconds / 1_000_000_000_000_000 + 1)
            _ = poll(&watched, nfds_t(watched.count), milliseconds)
            closed = countClosedByPeer()
        }
        return closed
    }

    func close() {
        for fd in descriptors { Glibc.close(fd) }
        descriptors = []
    }
}
