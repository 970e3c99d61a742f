import LoadCore
import SluiceHTTP
import SluiceIO

/// One keep-alive connection sending requests one after another (stream, short), or one long stream
/// (hold). Reconnects after a failure while the run goes on, after a short pause and a bounded number
/// of times. Loop thread only.
final class LoadConnection {
    unowned let worker: Worker
    private var socket: BufferEvent?
    private var parser = HTTPResponseParser()
    private var scanner = SSEScanner()
    private var status = 0
    private var inFlight = false
    private var sentAt: UInt64 = 0
    private var lastContentAt: UInt64 = 0
    private var sawContent = false
    private var sawDone = false
    private var requests = 0
    private var reconnects = 0
    private var over = false
    private var isLive = false

    static let maxReconnects = 100

    init(worker: Worker) { self.worker = worker }

    private var mode: Options.Mode { worker.options.mode }

    func open() {
        guard !over else { return }
        let s = BufferEvent(loop: worker.loop, connectingWith: nil, serverName: nil)
        socket = s
        s.onReadable = { [unowned self] in self.readable() }
        s.onCondition = { [unowned self] condition in
            switch condition {
            case .connected: self.send()
            case .endOfStream: self.broken("closed by peer")
            case .failure(let text): self.broken(self.inFlight || self.requests > 0 ? "connection error: \(text)" : "connect: \(text)")
            }
        }
        if !s.connect(host: worker.options.host, port: worker.options.port) { broken("connect: could not start") }
    }

    private func send() {
        guard let socket, !over else { return }
        if worker.shared.stopIssuing.load(ordering: .relaxed) || requests >= worker.options.maxRequestsPerConnection {
            finish()
            return
        }
        requests += 1
        worker.stats.started += 1
        parser.reset()
        parser.expectResponse(toMethod: "POST")
        scanner.reset()
        status = 0
        sawContent = false
        sawDone = false
        inFlight = true
        sentAt = nowNanos()
        socket.write(worker.request)
    }

    private func readable() {
        guard let socket else { return }
        do {
            try socket.consumeInput { bytes in
                guard inFlight else { return bytes.count }  // nothing expected: drop
                let used = try parser.parse(bytes) { event in
                    switch event {
                    case .head(let h): status = h.status
                    case .body(let b): body(b)
                    case .end: break
                    }
                }
                if parser.isComplete {
                    responseEnded()
                    // Stop here: the next response is parsed after the next request went out.
                    return used
                }
                return used
            }
        } catch {
            broken("bad response: \(error)")
        }
    }

    private func body(_ bytes: UnsafeRawBufferPointer) {
        worker.stats.bodyBytes += bytes.count
        guard mode != .short else { return }
        scanner.feed(bytes) { kind in
            switch kind {
            case .content:
                let now = nowNanos()
                worker.stats.contentEvents += 1
                worker.stats.dataEvents += 1
                if !sawContent {
                    sawContent = true
                    if worker.stats.ttft.count < WorkerStats.maxSamples {
                        worker.stats.ttft.append(Double(now &- sentAt) / 1000)
                        if requests == 1 { worker.stats.ttftFirst.append(Double(now &- sentAt) / 1000) }
                    }
                    if mode == .hold && status == 200 && !isLive {
                        isLive = true
                        worker.shared.live.add(1, ordering: .relaxed)
                    }
                } else if worker.stats.gaps.count < WorkerStats.maxSamples {
                    worker.stats.gaps.append(Double(now &- lastContentAt) / 1000)
                }
                lastContentAt = now
            case .done:
                sawDone = true
                worker.stats.dataEvents += 1
            case .otherData:
                worker.stats.dataEvents += 1
            case .other:
                break
            }
        }
    }

    private func responseEnded() {
        inFlight = false
        leaveLive(endedEarly: true)
        let ok = status == 200 && (mode == .short || sawDone)
        if ok {
            worker.stats.completed += 1
            if worker.stats.latency.count < WorkerStats.maxSamples {
                worker.stats.latency.append(Double(nowNanos() &- sentAt) / 1000)
            }
        } else {
            worker.stats.fail(status != 200 ? "status \(status)" : "no [DONE]")
        }
        if mode == .hold {
            finish()
        } else {
            // Out of the parser callback before the next request.
            worker.loop.soon { [weak self] in self?.send() }
        }
    }

    private func leaveLive(endedEarly: Bool) {
        if isLive {
            isLive = false
            worker.shared.live.subtract(1, ordering: .relaxed)
            if endedEarly && mode == .hold { worker.stats.endedWhileHeld += 1 }
        }
    }

    private func broken(_ reason: String) {
        guard !over else { return }
        if inFlight {
            inFlight = false
            worker.stats.fail(reason)
        } else if requests == 0 {
            worker.stats.fail(reason)
        }
        leaveLive(endedEarly: true)
        socket?.close()
        socket = nil
        parser = HTTPResponseParser()
        let stopping = worker.shared.stopIssuing.load(ordering: .relaxed)
        if mode != .hold && !stopping && reconnects < Self.maxReconnects {
            reconnects += 1
            worker.loop.schedule(after: .milliseconds(10)) { [weak self] in self?.open() }
        } else {
            finish()
        }
    }

    /// This connection's work is over; it closes.
    private func finish() {
        guard !over else { return }
        over = true
        socket?.close()
        socket = nil
        worker.shared.finishedConnections.add(1, ordering: .relaxed)
    }

    /// The run is ending: a request in flight is counted as unfinished (hold streams are expected to be).
    func abandon() {
        guard !over else { return }
        if inFlight && mode != .hold { worker.stats.unfinished += 1 }
        if isLive { isLive = false; worker.shared.live.subtract(1, ordering: .relaxed) }
        inFlight = false
        finish()
    }
}
