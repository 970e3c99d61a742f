import CLibevent

public struct ListenError: Error, CustomStringConvertible, Sendable {
    public var description: String
}

/// A peer's address as text.
public struct PeerAddress: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: Int
    public init(host: String, port: Int) { self.host = host; self.port = port }
    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

/// Accepts connections of one `ListeningSocket` on one loop. Several workers each own a `Listener` of the
/// same socket; closing one stops only that loop's accepting. Loop thread only.
public final class Listener {
    private var listener: OpaquePointer?
    public let loop: EventLoop
    /// The bound port (useful when asked for port 0).
    public let port: Int
    /// Called for each accepted socket; the callee owns the fd from then on.
    public var onAccept: ((Int32, PeerAddress) -> Void)?
    /// When set, and accepting fails for want of descriptors, clients waiting in the backlog get
    /// `descriptorsExhaustedAnswer` from the reserve's descriptor and are closed.
    public var reserve: DescriptorReserve?
    /// The bytes a client gets when no descriptor is left (a complete HTTP response, as a rule).
    public var descriptorsExhaustedAnswer: [UInt8] = []
    /// Called with the number of clients answered from the reserve, after they were.
    public var onDescriptorsExhausted: ((Int) -> Void)?
    /// How long accepting pauses after an accept error.
    public static let acceptPause: Duration = .milliseconds(100)

    /// Accepts `socket`'s connections on `loop`, through a descriptor of its own.
    public init(loop: EventLoop, socket: ListeningSocket) throws {
        self.loop = loop
        self.port = socket.port
        let fd = try socket.duplicateDescriptor()
        listener = nil
        let made = evconnlistener_new(loop.base, acceptTrampoline, Unmanaged.passUnretained(self).toOpaque(),
                                      LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 0, fd)
        guard let made else {
            sluice_close(fd)
            throw ListenError(description: "evconnlistener_new failed")
        }
        listener = made
        evconnlistener_set_error_cb(made, acceptErrorTrampoline)
    }

    /// Binds a socket of its own (for a listener only this loop serves, such as the admin one).
    public convenience init(loop: EventLoop, host: String, port: Int, backlog: Int = 1024) throws {
        try self.init(loop: loop, socket: ListeningSocket(host: host, port: port, backlog: backlog))
    }

    deinit { close() }

    /// Stops accepting and closes the socket. Connections already accepted are not affected.
    public func close() {
        if let l = listener {
            listener = nil
            evconnlistener_free(l)
        }
    }

    fileprivate func accepted(_ fd: Int32, _ address: UnsafeMutablePointer<sockaddr>?) {
        var text = [CChar](repeating: 0, count: 64)
        var port: Int32 = -1
        if let address { port = sluice_format_address(address, &text, 64) }
        let host = String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        guard let onAccept else {
            sluice_close(fd)
            return
        }
        onAccept(fd, PeerAddress(host: host, port: Int(port)))
    }

    /// Out of descriptors or similar: answers the waiting clients from the reserve (when out of
    /// descriptors and a reserve is set), then pauses accepting for `acceptPause` instead of
    /// spinning on the error (the socket stays readable while clients wait).
    fileprivate func acceptFailed(_ error: Int32) {
        guard let l = listener else { return }
        if error == EMFILE || error == ENFILE, let reserve {
            let answered = reserve.answerWaiting(on: evconnlistener_get_fd(l), with: descriptorsExhaustedAnswer, limit: 64)
            if answered > 0 { onDescriptorsExhausted?(answered) }
        }
        evconnlistener_disable(l)
        loop.schedule(after: Self.acceptPause) { [weak self] in
            if let l = self?.listener { evconnlistener_enable(l) }
        }
    }
}

private let acceptTrampoline: @convention(c) (OpaquePointer?, Int32, UnsafeMutablePointer<sockaddr>?, Int32, UnsafeMutableRawPointer?) -> Void = { _, fd, address, _, arg in
    let target = Unmanaged<Listener>.fromOpaque(arg!).takeUnretainedValue()
    // The callee may drop the last other reference; keep it alive for the call.
    withExtendedLifetime(target) { target.accepted(fd, address) }
}
private let acceptErrorTrampoline: @convention(c) (OpaquePointer?, UnsafeMutableRawPointer?) -> Void = { _, arg in
    // The accept's error, read before anything else can change errno.
    let error = sluice_errno()
    let target = Unmanaged<Listener>.fromOpaque(arg!).takeUnretainedValue()
    // The callee may drop the last other reference; keep it alive for the call.
    withExtendedLifetime(target) { target.acceptFailed(error) }
}

/// Closes a socket the caller owns (an accepted one it will not serve).
public func sluiceCloseSocket(_ fd: Int32) { sluice_close(fd) }
