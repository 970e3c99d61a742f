import CLibevent

/// Notices a reset from the peer of a socket whose peer already ended its sending side, while
/// nothing reads the socket. Owned by the `BufferEvent` of that socket. Loop thread only.
///
/// After the peer's end of stream, the socket stays readable (reads return 0), so the bufferevent
/// stops reading, and a reset that arrives later would go unnoticed until the next write. This
/// watches a duplicate of the descriptor, edge-triggered, which fires once for the end of stream
/// already there (ignored) and again when the reset arrives; the duplicate keeps its registration
/// apart from the bufferevent's level-triggered ones. Costs one descriptor while it lives; when none
/// is left, the watch is not made and the reset shows at the next write, as without it.
final class PeerResetWatch {
    private let descriptor: Int32
    private var event: OpaquePointer?
    private let onReset: () -> Void

    /// Nil when the descriptor cannot be duplicated or the event cannot be made.
    init?(loop: EventLoop, socket: Int32, onReset: @escaping () -> Void) {
        let copy = sluice_dup_cloexec(socket)
        guard copy >= 0 else { return nil }
        descriptor = copy
        self.onReset = onReset
        event = event_new(loop.base, copy, Int16(EV_READ | EV_ET | EV_PERSIST), peerResetTrampoline,
                          Unmanaged.passUnretained(self).toOpaque())
        guard let event, event_add(event, nil) == 0 else {
            if let event { event_free(event) }
            self.event = nil
            sluice_close(copy)
            return nil
        }
    }

    deinit {
        if let event { event_free(event) }
        sluice_close(descriptor)
    }

    fileprivate func fired() {
        guard sluice_peer_was_reset(descriptor) != 0, let event else { return }
        event_free(event)
        self.event = nil
        onReset()
    }
}

private let peerResetTrampoline: @convention(c) (Int32, Int16, UnsafeMutableRawPointer?) -> Void = { _, _, arg in
    let target = Unmanaged<PeerResetWatch>.fromOpaque(arg!).takeUnretainedValue()
    // The callee may drop the last other reference; keep it alive for the call.
    withExtendedLifetime(target) { target.fired() }
}
