import CLibevent

/// One bound, listening TCP socket, owned by this object and closed when it goes away.
///
/// The workers of one process share it: each wraps its own duplicate of the descriptor in a `Listener` on its
/// own loop, and the kernel hands each new connection to whichever loop accepts first (an idle one, as a rule).
/// The socket is bound without `SO_REUSEPORT`, so binding a port that another process (a second `sluice run`,
/// an old instance still draining) listens on fails with "address in use" instead of silently splitting the
/// traffic between the two. Any thread.
public final class ListeningSocket: Sendable {
    /// The bound port (the one the kernel chose when asked for port 0).
    public let port: Int
    public let address: PeerAddress
    private let fd: Int32

    /// Binds `host:port` (a numeric address; port 0 takes a free port) and listens with `backlog`.
    /// Throws `ListenError` with the system's reason ("Address already in use") when it cannot.
    public init(host: String, port: Int, backlog: Int = 1024) throws {
        var storage = sockaddr_storage()
        let length = sluice_make_address(host, Int32(port), &storage)
        guard length > 0 else { throw ListenError(description: "\(host) is not a numeric IP address") }
        let fd = withUnsafePointer(to: &storage) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { sluice_listen_socket($0, length, Int32(backlog)) }
        }
        guard fd >= 0 else {
            throw ListenError(description: "cannot listen on \(PeerAddress(host: host, port: port)): \(String(cString: strerror(sluice_errno())))")
        }
        self.fd = fd
        self.port = Int(sluice_local_port(fd))
        self.address = PeerAddress(host: host, port: self.port)
    }

    deinit { sluice_close(fd) }

    /// A new descriptor for this socket, which the caller owns and closes. The socket stays open while any
    /// descriptor for it does.
    func duplicateDescriptor() throws -> Int32 {
        let copy = sluice_dup_cloexec(fd)
        guard copy >= 0 else {
            throw ListenError(description: "cannot listen on \(address): \(String(cString: strerror(sluice_errno())))")
        }
        return copy
    }
}
