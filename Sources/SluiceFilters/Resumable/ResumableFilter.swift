import Logging
import SluiceFilterAPI

/// `resumable`: keeps each event stream's events so that a client that lost its connection picks up
/// where it left off, without a second upstream request.
///
/// ```yaml
/// - filter: resumable
///   config: { window: 60s, max_bytes: 4MiB, max_total_bytes: 256MiB, resume_path: /sluice/streams }
/// ```
///
/// - **Streams.** A `200 text/event-stream` response gets `x-sluice-stream-id: ID` (128 random
///   bits), and each event an `id:` (its number in the stream, 1, 2, …) unless the upstream gave
///   it one. The events are kept, in the bytes the client got, bound to the client's credential
///   (`Authorization`, or what `key` names).
/// - **The client leaves.** The upstream runs on, detached (`onClientLeft`), while the stream fits
///   `max_bytes` and until `window` has passed with nobody reading it; past either it is cancelled.
/// - **Resume.** `GET {resume_path}/ID` with `Last-Event-ID` (or `?last_event_id=`) answers 200
///   with the kept events after that id, then the live rest, then the end as the original ended
///   (properly, or with an error event and a cut). Unknown id or another credential: 404. Gone
///   (expired, evicted, or the events after that id no longer kept): 410. Never a partial replay.
/// - **Memory.** Per stream, the newest `max_bytes` while its client reads; in all,
///   `max_total_bytes`, past which the oldest finished streams go first, and a live stream that
///   still does not fit loses resumability (the log says so).
/// - **Several instances.** `shared: true` (with a `shared_state` section) also copies every stream
///   to Redis (`RedisStreamStore`): a resume of a stream this instance does not hold is served from
///   there, and one Redis cannot answer gets 503. The producing stream never waits for Redis.
///
/// List it first in its chain: its `onRequest` then reads the credential before other filters
/// change the request, and its `onEvent` runs last, so it keeps each event as the client gets it.
/// The resume path must reach a route whose chain holds the filter. It rewrites events
/// (`EventAccess.rewrite`), so its chain forwards whole events.
///
/// Threading: hooks on the exchange's loop thread; the store is shared by every worker, and a
/// resume on one worker follows a stream produced on another through the store's wakes.
public final class ResumableFilter: StatefulFilter {
    /// The hooks below that do something; the engine skips the rest.
    public var hooks: FilterHooks { [.onRequest, .onResponseHead, .onComplete] }

    public let settings: ResumableSettings
    /// Where the streams are kept: `memory`, or with `shared: true` a `RedisStreamStore` around it.
    public let store: any ResumableStreamStore
    /// What this process keeps; carried over reloads (with or without sharing).
    public let memory: MemoryStreamStore
    private let name: String
    private let clock: any SluiceClock
    private let metrics: ResumableMetrics
    private let resumePrefix: String
    private static let logger = Logger(label: "sluice.resumable")

    public init(_ setup: FilterSetup) {
        settings = ResumableSettings.decode(setup.config)
        name = setup.name
        clock = setup.clock
        resumePrefix = settings.resumePath + "/"
        let shared = SharedLimit.store(setup.config, setup)
        let metrics = ResumableMetrics(setup, shared: shared != nil)
        self.metrics = metrics
        if let previous = setup.previous as? ResumableFilter {
            memory = previous.memory
            memory.apply(settings.limits)
        } else {
            memory = MemoryStreamStore(limits: settings.limits, clock: setup.clock, metrics: metrics)
        }
        if let shared {
            // A new Redis store per instance (the shared store is this chain version's); the
            // streams it keeps are the carried-over memory's, and its keys are the same across
            // reloads and instances of one chain and name.
            store = RedisStreamStore(local: memory, shared: shared, keyBase: "\(shared.keyPrefix):resumable:\(setup.chain):\(setup.name)",
                                     limits: settings.limits, metrics: metrics.shared)
        } else {
            store = memory
        }
    }

    public var eventAccess: EventAccess { .rewrite }
    public var keepsUpstreamWhenClientLeaves: Bool { true }

    // MARK: - Per-exchange state

    /// Per-exchange state: the stream this exchange produces, or the kept stream it serves to a
    /// resume (never both).
    public final class ExchangeState {
        var produced: ProducedStream?
        var served: ServedResume?
    }

    public let stateSlot = ExchangeStateSlot()
    public func makeState(for exchange: Exchange) -> ExchangeState { ExchangeState() }

    /// The stream an exchange's upstream response makes.
    final class ProducedStream {
        /// The credential as the request came (before later filters change it).
        var credential = ""
        /// Its id once the response turned out to be an event stream.
        var id: String?
        var nextSeq = 1
        /// Its events are still kept (it did not lose resumability).
        var kept = false
        /// Its client left and the upstream runs on.
        var detached = false
    }

    /// A resume an exchange answers.
    final class ServedResume {
        var reader: StreamReader?
        /// The response head went out: events may be written. A wake that comes before (a
        /// producer on another worker appended between the open and this exchange's turn) reads
        /// nothing, so nothing is read that could not be written; the first delivery reads it all.
        var began = false
    }

    // MARK: - Hooks

    public func onRequest(_ exchange: Exchange) -> Decision {
        switch ResumeRequest.parse(exchange.request, prefix: resumePrefix) {
        case .notResume:
            let produced = ProducedStream()
            produced.credential = credential(of: exchange)
            exchange.state(for: self).produced = produced
            return .next
        case .malformed(let why):
            metrics.resumes[.badRequest]?.increment()
            return .reject(ProxyError(.badRequest, why, source: .filter(name)))
        case .resume(let request):
            return resume(request, exchange)
        }
    }

    public func onResponseHead(_ exchange: Exchange) -> Decision {
        guard let produced = exchange.existingState(for: self)?.produced else { return .next }
        if let earlier = produced.id {
            // An earlier attempt's stream, retried before its head reached the client.
            store.discard(earlier, worker: exchange.worker)
            produced.id = nil
            produced.kept = false
            produced.nextSeq = 1
        }
        guard exchange.isEventStream, exchange.response?.status == 200 else { return .next }
        let id = StreamID.make()
        store.begin(id, credential: produced.credential, dialect: exchange.dialect, worker: exchange.worker)
        produced.id = id
        produced.kept = true
        exchange.response?.headers.set("x-sluice-stream-id", id)
        return .next
    }

    public func onEvent(_ exchange: Exchange, _ event: inout SSEEvent, _ info: LLMEventInfo) -> EventDecision {
        guard let produced = exchange.existingState(for: self)?.produced, let id = produced.id else { return .pass }
        let seq = produced.nextSeq
        produced.nextSeq += 1
        if event.id == nil { event.id = String(seq) }
        guard produced.kept else { return .modified }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(event.data.utf8.count + 32)
        event.write(into: &bytes)
        switch store.append(id, seq: seq, eventID: event.id ?? String(seq), bytes: bytes, worker: exchange.worker) {
        case .kept:
            return .modified
        case .overBudget:
            produced.kept = false
            metrics.upstreamsCancelled[.maxBytes]?.increment()
            return .fail(ProxyError(.clientClosed, "the client left and the stream outgrew max_bytes (\(settings.maxBytes) bytes)",
                                    source: .filter(name)))
        case .lost(let loss):
            produced.kept = false
            Self.logger.warning("a stream lost resumability", metadata: [
                "request_id": "\(exchange.id)", "stream_id": "\(id)", "reason": "\(loss.rawValue)",
                "kept_bytes": "\(memory.keptBytes)", "max_total_bytes": "\(settings.maxTotalBytes)",
            ])
            guard produced.detached else { return .modified }
            metrics.upstreamsCancelled[.lost]?.increment()
            return .fail(ProxyError(.clientClosed, "the client left and the stream is no longer kept", source: .filter(name)))
        }
    }

    public func onClientLeft(_ exchange: Exchange) -> ClientLeftDecision {
        guard let produced = exchange.existingState(for: self)?.produced, let id = produced.id else { return .cancel }
        guard produced.kept, store.originLeft(id) else {
            Self.logger.info("the client left a stream that is not kept: its upstream is cancelled", metadata: [
                "request_id": "\(exchange.id)", "stream_id": "\(id)",
            ])
            return .cancel
        }
        produced.detached = true
        metrics.upstreamsKept.increment()
        watchDetached(exchange, id, after: settings.window)
        return .keepUpstream
    }

    public func onComplete(_ exchange: Exchange, _ outcome: Outcome) {
        if let served = exchange.existingState(for: self)?.served {
            if let reader = served.reader { store.close(reader) }
            return
        }
        guard let produced = exchange.existingState(for: self)?.produced, let id = produced.id else { return }
        switch outcome.keptUpstreamEnding ?? outcome.kind {
        case .completed, .upstreamError:
            store.end(id, .complete, worker: exchange.worker)
        case .rejected, .failed:
            // The client got an error instead of the stream and never saw its id.
            store.discard(id, worker: exchange.worker)
        case .clientGone:
            store.end(id, .cut("the stream was cancelled when its client left"), worker: exchange.worker)
        case .truncated:
            store.end(id, .cut(outcome.error?.message ?? "the stream was cut"), worker: exchange.worker)
        }
    }

    // MARK: - The detached upstream

    /// Asks the store, after `delay`, whether the detached upstream runs on; cancels it when not.
    private func watchDetached(_ exchange: Exchange, _ id: String, after delay: Duration) {
        exchange.schedule(after: delay) { [weak self, weak exchange] in
            guard let self, let exchange else { return }
            switch self.store.detachedCheck(id) {
            case .runOn(let more):
                self.watchDetached(exchange, id, after: more)
            case .cancel:
                exchange.existingState(for: self)?.produced?.kept = false
                self.metrics.upstreamsCancelled[.window]?.increment()
                exchange.fail(ProxyError(.clientClosed, "the client did not come back within the resumable window (\(self.settings.window))",
                                         source: .filter(self.name)))
            }
        }
    }

    // MARK: - Resumes

    private func resume(_ request: ResumeRequest, _ exchange: Exchange) -> Decision {
        guard exchange.request.method == "GET" else {
            metrics.resumes[.badRequest]?.increment()
            return .reject(ProxyError(.badRequest, "resume a stream with GET", source: .filter(name), status: 405,
                                      headers: [("allow", "GET")]))
        }
        guard StreamID.isWellFormed(request.streamID) else {
            metrics.resumes[.notFound]?.increment()
            return .reject(Self.notFound(source: name))
        }
        let id = String(request.streamID)
        let served = ServedResume()
        exchange.state(for: self).served = served
        let reader = StreamReader(streamID: id) { [weak self, weak exchange] in
            exchange?.executeOnLoop { [weak self, weak exchange] in
                guard let self, let exchange else { return }
                self.deliver(to: exchange)
            }
        }
        served.reader = reader
        store.open(reader, credential: credential(of: exchange), lastEventID: request.lastEventID, worker: exchange.worker) {
            [weak self, weak exchange] answer in
            // A store may answer at once, inside this hook: the exchange goes on from its loop
            // once the hook has answered `.suspend`.
            exchange?.executeOnLoop { [weak self, weak exchange] in
                guard let self, let exchange else { return }
                self.opened(answer, id, exchange)
            }
        }
        return .suspend
    }

    private func opened(_ answer: StreamTable.OpenAnswer, _ id: String, _ exchange: Exchange) {
        switch answer {
        case .notFound:
            metrics.resumes[.notFound]?.increment()
            exchange.resume(.reject(Self.notFound(source: name)))
        case .gone(let loss):
            metrics.resumes[.gone]?.increment()
            exchange.resume(.reject(ProxyError(.badRequest, "stream \(id) \(loss.explanation)", source: .filter(name), status: 410,
                                               clientType: "invalid_request_error", code: "stream_gone")))
        case .unknownEventID:
            metrics.resumes[.badRequest]?.increment()
            exchange.resume(.reject(ProxyError(.badRequest, "stream \(id) has no event with the Last-Event-ID given",
                                               source: .filter(name), code: "unknown_event_id")))
        case .unavailable(let why):
            metrics.resumes[.unavailable]?.increment()
            exchange.resume(.reject(ProxyError(.overloaded, "stream \(id) cannot be looked up now: the store shared by the instances "
                                               + "does not answer; try again shortly", source: .filter(name), retryAfterSeconds: 1,
                                               code: "stream_store_unavailable", logDetail: why)))
        case .opened(_, let dialect, _):
            metrics.resumes[.replayed]?.increment()
            exchange.dialect = dialect
            var head = HTTPResponseHead(status: 200)
            head.headers.set("content-type", "text/event-stream")
            head.headers.set("cache-control", "no-cache")
            head.headers.set("x-sluice-stream-id", id)
            // False when the exchange ended meanwhile (its client left): `onComplete` closed the reader.
            guard exchange.beginOwnStream(head), let served = exchange.existingState(for: self)?.served else { return }
            served.began = true
            deliver(to: exchange)
        }
    }

    /// Writes what the exchange's reader has not had yet, and the end once the stream ended.
    /// Loop thread; runs when the resume opened and on every wake.
    private func deliver(to exchange: Exchange) {
        guard let served = exchange.existingState(for: self)?.served, served.began, let reader = served.reader else { return }
        switch store.read(reader) {
        case .events(let bytes, _, let ending):
            exchange.writeOwnStream(bytes)
            switch ending {
            case nil: break
            case .complete?: exchange.endOwnStream()
            case .cut(let why)?: exchange.fail(ProxyError(.upstreamReset, why, source: .upstream))
            }
        case .lost(let loss):
            exchange.fail(ProxyError(.upstreamReset, "stream \(reader.streamID) \(loss.explanation)", source: .filter(name)))
        }
    }

    // MARK: - Helpers

    private func credential(of exchange: Exchange) -> String {
        if let key = settings.key { return key.key(for: exchange) }
        return exchange.request.headers["authorization"] ?? ""
    }

    private static func notFound(source: String) -> ProxyError {
        ProxyError(.notFound, "no such stream", source: .filter(source), clientType: "invalid_request_error", code: "stream_not_found")
    }
}
