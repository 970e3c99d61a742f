import SluiceFilterAPI
import SluiceHTTP
import SluiceIO

/// What a racing attempt tells the exchange it races for. Loop thread only.
protocol RacingAttemptOwner: AnyObject {
    /// The attempt's connection is up: the exchange writes the request on it now.
    func racerConnected(_ racer: RacingAttempt)
    /// The attempt produced its first content (a content or final event of a 200 event stream, or
    /// the head of any other 2xx response). Called after the read that carried it returned, never
    /// from inside the connection's callbacks, so the exchange may take the connection over.
    func racerReachedFirstToken(_ racer: RacingAttempt)
    /// The attempt failed before its first content; its connection is closed already.
    func racerFailed(_ racer: RacingAttempt, _ error: ProxyError)
}

/// One more attempt at an exchange's request (a hedge, `Exchange.startHedge`), in flight at the
/// same time as the exchange's own attempt. Together they are the exchange's set of attempts in
/// flight: the one that produces the first content becomes the exchange's attempt, and the others
/// are cancelled (`cancel`: the connection is reset, never pooled mid-response, so the upstream
/// stops generating).
///
/// Until then a racing attempt runs no filter hook and writes nothing to the client: it connects,
/// sends the request, and keeps what arrives (head and body bytes) so the exchange can replay it
/// through the chain if it wins. It reads only enough of an event stream to see its first content
/// event; its tokens are not counted (only the winner's are). Loop thread only.
final class RacingAttempt: UpstreamConnectionDelegate {
    enum Stage: Equatable {
        case connecting, waitingForHead, receiving, ended
    }

    /// The endpoint as filters see it.
    let candidate: EndpointCandidate
    let endpoint: UpstreamEndpoint
    /// When it started, on the exchange's clock.
    let startedAt: MonotonicInstant
    private(set) var stage: Stage = .connecting
    private(set) var connection: UpstreamConnection?

    /// When its request went out on the connection (`requestWritten`): its connect time, for the
    /// exchange that takes it over.
    private(set) var connectedAt: MonotonicInstant?
    /// The response head, once it came.
    private(set) var head: HTTPResponseHead?
    /// The body bytes as they came, for the exchange to replay.
    private(set) var received: [UInt8] = []
    /// The upstream ended its response (by its framing) before the attempt was taken over.
    private(set) var responseEnded = false
    /// How the request body was framed for this upstream.
    var bodyFraming: UpstreamBodyFraming = .none
    private var parser: SSEParser?
    private let dialect: StreamDialect
    private let loop: EventLoop
    private let connectTimeout: Duration
    private var connectTimer: SluiceIO.Timer?
    private var announced = false
    private unowned let owner: any RacingAttemptOwner

    deinit {
        // The connection does not retain its delegate (see `UpstreamConnection.delegate`).
        if let connection, connection.delegate === self { connection.delegate = nil }
    }

    init(owner: any RacingAttemptOwner, candidate: EndpointCandidate, endpoint: UpstreamEndpoint, loop: EventLoop,
         dialect: StreamDialect, connectTimeout: Duration, startedAt: MonotonicInstant) {
        self.owner = owner
        self.candidate = candidate
        self.endpoint = endpoint
        self.loop = loop
        self.dialect = dialect
        self.connectTimeout = connectTimeout
        self.startedAt = startedAt
    }

    /// Starts connecting: a fresh connection, never a pooled one (a pooled connection the upstream
    /// closed would cost the race a retry). False when the connect could not even start.
    func start(method: String) -> Bool {
        let connection = UpstreamConnection(loop: loop, endpoint: endpoint)
        self.connection = connection
        connection.begin(method: method, delegate: self)
        let timer = SluiceIO.Timer(loop: loop) { [weak self] _ in self?.connectTimedOut() }
        connectTimer = timer
        timer.arm(after: connectTimeout)
        guard connection.connect() else {
            release(abort: false)
            stage = .ended
            return false
        }
        return true
    }

    /// Gives the connection to the exchange that takes this attempt over; the attempt is over.
    func handOver() -> UpstreamConnection? {
        connectTimer?.cancel()
        connectTimer = nil
        stage = .ended
        defer { connection = nil }
        return connection
    }

    /// Cancels the attempt: the connection is reset so the upstream stops generating.
    func cancel() {
        guard stage != .ended else { return }
        stage = .ended
        release(abort: true)
    }

    private func release(abort: Bool) {
        connectTimer?.cancel()
        connectTimer = nil
        if let connection {
            self.connection = nil
            if abort { connection.abort() } else { connection.close() }
        }
    }

    private func fail(_ error: ProxyError) {
        guard stage != .ended else { return }
        stage = .ended
        release(abort: true)
        owner.racerFailed(self, error)
    }

    private func connectTimedOut() {
        guard stage == .connecting else { return }
        fail(ProxyError(.connectTimeout, "connecting to upstream \(endpoint.publicName) took longer than \(connectTimeout)",
                        source: .upstream, logDetail: endpoint.url))
    }

    /// Tells the owner once, after the current callback: the owner may take the connection over,
    /// which must not happen inside its read.
    private func reachedFirstToken() {
        guard !announced else { return }
        announced = true
        loop.soon { [weak self] in
            guard let self, self.stage == .receiving else { return }
            self.owner.racerReachedFirstToken(self)
        }
    }

    // MARK: - UpstreamConnectionDelegate

    func upstreamConnected(_ connection: UpstreamConnection) {
        guard connection === self.connection, stage == .connecting else { return }
        connectTimer?.cancel()
        stage = .waitingForHead
        owner.racerConnected(self)
    }

    /// Set by the owner when it wrote the request.
    func requestWritten(at instant: MonotonicInstant) { connectedAt = instant }

    func upstreamHead(_ connection: UpstreamConnection, _ head: HTTPResponseHead) {
        guard connection === self.connection, stage == .waitingForHead else { return }
        let eventStream = ResponseTap.isEventStream(head)
        guard head.status == 200 || (!eventStream && (200..<300).contains(head.status)) else {
            return fail(ProxyError(.upstreamError, "upstream answered \(head.status)", source: .upstream, status: head.status,
                                   logDetail: endpoint.url))
        }
        self.head = head
        stage = .receiving
        if eventStream {
            parser = SSEParser()
        } else {
            // A whole answer comes at once when it is ready: its head is its first content.
            reachedFirstToken()
        }
    }

    func upstreamBody(_ connection: UpstreamConnection, _ bytes: UnsafeRawBufferPointer) {
        guard connection === self.connection, stage == .receiving else { return }
        received.append(contentsOf: bytes)
        guard parser != nil, !announced else { return }
        var failure: ProxyError?
        do {
            try parser!.scan(bytes) { item in
                guard case .event(let view) = item, !announced, failure == nil else { return }
                switch LLMEventClassifier.classify(view, dialect: dialect).kind {
                case .content, .done:
                    reachedFirstToken()
                case .error:
                    failure = ProxyError(.upstreamError, "the upstream sent an error event before its first token", source: .upstream,
                                         logDetail: endpoint.url)
                case .preamble, .ping, .usage, .other:
                    break
                }
            }
        } catch {
            failure = ProxyError(.upstreamProtocol, "the upstream sent an invalid event stream: \(error)", source: .upstream)
        }
        if let failure { fail(failure) }
    }

    func upstreamEnd(_ connection: UpstreamConnection) {
        guard connection === self.connection, stage == .receiving else { return }
        responseEnded = true
        // An event stream that ended without content has nothing to win with.
        if !announced {
            fail(ProxyError(.upstreamReset, "the upstream ended the stream before its first token", source: .upstream,
                            logDetail: endpoint.url))
        }
    }

    func upstreamFailed(_ connection: UpstreamConnection, _ reason: String, sawResponseBytes: Bool, truncated: Bool) {
        guard connection === self.connection, stage != .ended else { return }
        let detail = "\(endpoint.url): \(reason)"
        switch stage {
        case .connecting:
            fail(ProxyError(.connectFailed, "cannot connect to upstream \(endpoint.publicName)", source: .upstream, logDetail: detail))
        case .waitingForHead:
            fail(ProxyError(.upstreamReset, "the upstream closed before responding", source: .upstream, logDetail: detail))
        case .receiving where announced:
            // It already won: the exchange takes it over after this callback and reports the cut
            // as the truncation of its stream, so keep the ending for it.
            responseEnded = false
            truncatedBeforeHandOver = ProxyError(.upstreamReset, "the upstream stream ended early", source: .upstream, logDetail: detail)
        case .receiving:
            fail(ProxyError(.upstreamReset, "the upstream stream ended before its first token", source: .upstream, logDetail: detail))
        case .ended:
            break
        }
    }

    /// The stream was cut after the attempt produced its first content and before the exchange
    /// took it over: the exchange ends its stream with this error once it has replayed the rest.
    private(set) var truncatedBeforeHandOver: ProxyError?
}
