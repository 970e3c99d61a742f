import SluiceFilterAPI
import SluiceHTTP
import SluiceIO

/// What an upstream connection reports to the exchange using it.
protocol UpstreamConnectionDelegate: AnyObject {
    func upstreamConnected(_ connection: UpstreamConnection)
    func upstreamHead(_ connection: UpstreamConnection, _ head: HTTPResponseHead)
    func upstreamBody(_ connection: UpstreamConnection, _ bytes: UnsafeRawBufferPointer)
    func upstreamEnd(_ connection: UpstreamConnection)
    /// The connection failed or closed. `sawResponseBytes` tells a reset before the head from a cut body.
    func upstreamFailed(_ connection: UpstreamConnection, _ reason: String, sawResponseBytes: Bool, truncated: Bool)
}

/// One connection to an upstream endpoint, plain or TLS, with its response parser. Owned by the
/// exchange using it, or by the worker's pool while idle. Loop thread only.
final class UpstreamConnection {
    let endpoint: UpstreamEndpoint
    let socket: BufferEvent
    // Touched on every read, on the loop thread only: not checked for exclusivity at run time.
    @exclusivity(unchecked) private var parser = HTTPResponseParser()
    private(set) var isConnected = false
    /// Completed exchanges on this connection; > 0 means it came from the pool.
    private(set) var reuseCount = 0
    @exclusivity(unchecked) private var sawResponseBytes = false
    /// The current response allows another request on this connection (keep-alive, not close-delimited).
    @exclusivity(unchecked) private var responseKeepAlive = false
    /// The exchange (or racing attempt) the connection answers. Not retained, and not a weak
    /// reference, which would give every exchange a side table and its retains and releases the
    /// runtime's slow path: the delegate clears it when it lets go of the connection (`abort`,
    /// `close`, pooling) and, failing that, when it is freed. A read loads it into a strong local
    /// for the call.
    unowned(unsafe) var delegate: UpstreamConnectionDelegate? { didSet { delegateChanges &+= 1 } }
    /// Counts every change of `delegate`, so a read can load the delegate once and still tell, at
    /// each parsed item, whether it is the delegate yet: a weak load, and the release of an object
    /// that is weakly referenced, cost a few hundred instructions per forwarded event.
    @exclusivity(unchecked) private var delegateChanges = 0
    /// Set by the pool the first time the connection goes idle, and kept: called when the upstream
    /// closes it or sends a byte while no exchange uses it (`delegate` is nil).
    var onIdleClose: (() -> Void)?
    /// The pool's idle timeout: runs while the connection waits in the pool (see `UpstreamPool.putIdle`).
    @exclusivity(unchecked) var idle = IdleTimeout()

    init(loop: EventLoop, endpoint: UpstreamEndpoint) {
        self.endpoint = endpoint
        socket = BufferEvent(loop: loop, connectingWith: endpoint.tls, serverName: endpoint.serverName)
        socket.onReadable = { [unowned self] in self.readable() }
        socket.onCondition = { [unowned self] condition in self.condition(condition) }
    }

    /// Starts the TCP (and TLS) connection.
    func connect() -> Bool {
        socket.connect(host: endpoint.host, port: endpoint.port)
    }

    /// Prepares for a new request on this connection (fresh or reused).
    func begin(method: String, delegate: UpstreamConnectionDelegate) {
        self.delegate = delegate
        parser.reset()
        parser.expectResponse(toMethod: method)
        sawResponseBytes = false
        responseKeepAlive = false
    }

    /// The response ended cleanly and the connection may carry another request.
    var isReusable: Bool { socket.isOpen && responseKeepAlive && parser.isComplete && socket.inputLength == 0 }

    func markReused() { reuseCount += 1 }

    func write(_ bytes: [UInt8]) { socket.write(bytes) }
    func write(_ bytes: UnsafeRawBufferPointer) { socket.write(bytes) }

    func setReading(_ on: Bool) { socket.setReading(on) }

    /// Cancels: closes with RST so the upstream stops generating at once.
    func abort() {
        delegate = nil
        idle.cancel()
        socket.abort()
    }

    func close() {
        delegate = nil
        idle.cancel()
        socket.close()
    }

    private func readable() {
        guard let d = delegate else {
            // Idle in the pool: any byte is unexpected; the connection is not reusable.
            if socket.inputLength > 0 { onIdleClose?() }
            return
        }
        let changes = delegateChanges
        var ended = false
        do {
            try socket.consumeInput { bytes in
                if !bytes.isEmpty { sawResponseBytes = true }
                if parser.isComplete { return 0 }
                return try parser.parse(bytes) { event in
                    // `d` is still the delegate unless it was changed (cleared, when the exchange let go).
                    guard self.delegateChanges == changes else { return }
                    switch event {
                    case .head(let head):
                        responseKeepAlive = head.keepAlive && head.version == .http1_1
                        d.upstreamHead(self, head)
                    case .body(let body): d.upstreamBody(self, body)
                    // Reported after `parse` returns: the delegate may pool this connection, which reads the parser.
                    case .end: ended = true
                    }
                }
            }
            if ended, delegateChanges == changes { d.upstreamEnd(self) }
        } catch let error as HTTPParseError {
            let d = self.delegate
            self.delegate = nil
            d?.upstreamFailed(self, "invalid response from upstream: \(error.reason)", sawResponseBytes: true, truncated: true)
        } catch {
            let d = self.delegate
            self.delegate = nil
            d?.upstreamFailed(self, "\(error)", sawResponseBytes: true, truncated: true)
        }
    }

    private func condition(_ condition: BufferEventCondition) {
        switch condition {
        case .connected:
            isConnected = true
            delegate?.upstreamConnected(self)
        case .endOfStream, .failure:
            let reason: String
            if case .failure(let text) = condition { reason = text } else { reason = "upstream closed the connection" }
            guard let d = delegate else {
                onIdleClose?()
                return
            }
            if socket.inputLength > 0 { readable() }
            guard delegate != nil else { return }
            var truncated = false
            var completed = false
            if case .endOfStream = condition {
                let outcome = parser.finishAtEOF { event in
                    if case .end = event { completed = true }
                }
                truncated = outcome == .truncated
                if outcome == .completed, completed {
                    responseKeepAlive = false
                    d.upstreamEnd(self)
                    socket.close()
                    return
                }
            } else {
                truncated = sawResponseBytes
            }
            self.delegate = nil
            d.upstreamFailed(self, reason, sawResponseBytes: sawResponseBytes, truncated: truncated)
        }
    }
}
