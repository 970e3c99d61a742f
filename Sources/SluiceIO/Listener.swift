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
///
/// Accepts on a read event of its own rather than through an `evconnlistener`, so that an accept
/// can run under the `DescriptorReserve`'s lock when a reserve is set.
public final class Listener {
    /// The listening descriptor (this loop's duplicate), -1 once closed.
    private var descriptor: Int32
    private var event: OpaquePointer?
    /// Accepting pauses after an error (out of descriptors, as a rule) until this timer fires;
    /// made at the first error.
    private var resumeTimer: Timer?
    public let loop: EventLoop
    /// The bound port (useful when asked for port 0).
    public let port: Int
    /// Called for each accepted socket; the callee owns the fd from then on.
    public var onAccept: ((Int32, PeerAddress) -> Void)?
    /// When set, every accept runs under the reserve's lock, and when accepting fails for want of
    /// descriptors, clients waiting in the backlog get `descriptorsExhaustedAnswer` from the
    /// reserve's descriptor and are closed.
    public var reserve: DescriptorReserve?
    /// The bytes a client gets when no descriptor is left (a complete HTTP response, as a rule).
    public var descriptorsExhaustedAnswer: [UInt8] = []
    /// Called with the number of clients answered from the reserve, after they were.
    public var onDescriptorsExhausted: ((Int) -> Void)?
    /// How long accepting pauses after an accept error.
    public static let acceptPause: Duration = .milliseconds(100)
    /// Accepts per read event at most, so that one busy listener does not starve the loop's
    /// connections; the event fires again on the next turn while clients wait.
    static let acceptsPerWakeup = 64

    /// Accepts `socket`'s connections on `loop`, through a descriptor of its own.
    public init(loop: EventLoop, socket: ListeningSocket) throws {
        self.loop = loop
        self.port = socket.port
        descriptor = try socket.duplicateDescriptor()
        event = event_new(loop.base, descriptor, Int16(EV_READ | EV_PERSIST), acceptTrampoline,
                          Unmanaged.passUnretained(self).toOpaque())
        guard let event, event_add(event, nil) == 0 else {
            close()
            throw ListenError(description: "cannot watch the listening socket for connections")
        }
    }

    /// Binds a socket of its own (for a listener only this loop serves, such as the admin one).
    public convenience init(loop: EventLoop, host: String, port: Int, backlog: Int = 1024) throws {
        try self.init(loop: loop, socket: ListeningSocket(host: host, port: port, backlog: backlog))
    }

    deinit { close() }

    /// Stops accepting and closes the socket. Connections already accepted are not affected.
    public func close() {
        resumeTimer?.cancel()
        if let event {
            loop.assertMayTouch("a listener")
            self.event = nil
            event_free(event)
        }
        if descriptor >= 0 {
            sluice_close(descriptor)
            descriptor = -1
        }
    }

    /// Clients wait: accepts up to `acceptsPerWakeup` of them.
    fileprivate func readable() {
        var address = sockaddr_storage()
        for _ in 0..<Self.acceptsPerWakeup {
            // `onAccept` may have closed this listener.
            guard descriptor >= 0 else { return }
            let outcome: DescriptorReserve.Accepted
            if let reserve {
                outcome = reserve.accept(on: descriptor, address: &address, answer: descriptorsExhaustedAnswer)
            } else {
                var error: Int32 = 0
                let fd = sluice_accept(descriptor, &address, &error)
                outcome = fd >= 0 ? .connection(fd) : .failed(error)
            }
            switch outcome {
            case .connection(let fd):
                accepted(fd, &address)
            case .answeredToRebuildTheSpare:
                onDescriptorsExhausted?(1)
            case .failed(let error) where error == EAGAIN || error == EWOULDBLOCK:
                return
            case .failed(let error) where error == EINTR || error == ECONNABORTED || error == EPROTO:
                continue  // that client gave up (or a signal came); the next may be there
            case .failed(let error):
                acceptFailed(error)
                return
            }
        }
    }

    private func accepted(_ fd: Int32, _ address: UnsafeMutablePointer<sockaddr_storage>) {
        var text = [CChar](repeating: 0, count: 64)
        let port = address.withMemoryRebound(to: sockaddr.self, capacity: 1) { sluice_format_address($0, &text, 64) }
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
    private func acceptFailed(_ error: Int32) {
        guard let event else { return }
        if error == EMFILE || error == ENFILE, let reserve {
            let answered = reserve.answerWaiting(on: descriptor, with: descriptorsExhaustedAnswer, limit: 64)
            if answered > 0 { onDescriptorsExhausted?(answered) }
        }
        event_del(event)
        if resumeTimer == nil {
            resumeTimer = Timer(loop: loop) { [unowned self] _ in
                if let event = self.event { event_add(event, nil) }
            }
        }
        resumeTimer?.arm(after: Self.acceptPause)
    }
}

private let acceptTrampoline: @convention(c) (Int32, Int16, UnsafeMutableRawPointer?) -> Void = { _, _, arg in
    let target = Unmanaged<Listener>.fromOpaque(arg!).takeUnretainedValue()
    // The callee may drop the last other reference; keep it alive for the call.
    withExtendedLifetime(target) { target.loop.dispatch { target.readable() } }
}

/// Closes a socket the caller owns (an accepted one it will not serve).
public func sluiceCloseSocket(_ fd: Int32) { sluice_close(fd) }
