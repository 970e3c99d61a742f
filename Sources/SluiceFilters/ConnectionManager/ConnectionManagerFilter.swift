import SluiceFilterAPI
import Synchronization

/// `connection_manager`: limits how many streams are open at once, in all and per client, and ends
/// streams older than `max_age`.
///
/// | key | meaning |
/// |---|---|
/// | `max_streams` | streams open at once across all workers, 1…10000000; beyond it a request gets 503 (optional) |
/// | `max_streams_per_client` | streams open at once per client key, 1…10000000; beyond it a request gets 429 (optional) |
/// | `key` | how clients are told apart: `ip` (default), `{ header: NAME }`, `route` or `global`; see `ClientKey` |
/// | `max_age` | a duration such as `10m` (1ms to 366 days); a stream older than this is ended (optional: no age limit) |
/// | `retry_after` | whole seconds to suggest in `Retry-After` when refusing, 0…86400 (default 1) |
///
/// At least one of `max_streams` and `max_streams_per_client` must be set.
///
/// **Admission.** `onRequest` takes a slot for the exchange, or refuses it without taking one: 429
/// (`rate_limited`) when its client key already holds `max_streams_per_client` slots, else 503
/// (`overloaded`) when `max_streams` slots are held in all. The per-client limit is checked first,
/// so a client over its own share is told so even while the proxy is full too. Both refusals carry
/// `Retry-After: <retry_after>` and a JSON error in the client's dialect
/// (`{"error":{"type":…,"message":…,"code":…}}` for OpenAI clients). Nothing is queued.
///
/// **Release.** The slot is given back in `onComplete`, exactly once, however the exchange ends:
/// completed, rejected or failed (by any filter or the upstream, including a connect failure),
/// truncated, client gone, or ended by `max_age`. An exchange this filter did not admit gives back
/// nothing.
///
/// **max_age.** The age of a stream runs from the start of its exchange (its request head arrived).
/// When it passes `max_age`, the exchange is ended with a `max_age` error:
/// - an SSE stream whose head was sent gets that error as its last event (no `[DONE]`), and its
///   connection is closed;
/// - any other response whose head was sent is cut: its connection is closed without the body's
///   end, so the client sees a truncated response, never a clean one;
/// - a request still without a response head (waiting for the upstream's head, held by another
///   filter, between retries) gets a 503 JSON error of type `max_age`.
///
/// The error is marked not retryable, and a retry attempt another filter starts anyway is refused
/// in `selectUpstream`. A request that is already older than `max_age` when it reaches this filter
/// (it waited in an earlier filter) gets the 503 at once and takes no slot.
///
/// **Sharing.** Each instance keeps one slot table behind a `Mutex`, shared by every worker. An
/// instance built by a reload (`FilterSetup.previous` is a `connection_manager`) adopts the previous
/// instance's table: streams still running on the old chain version keep their slots and give them
/// back into the same table, so counts stay exact across the reload while new streams start on the
/// new version. Each instance applies its own limits to the requests it admits; a lowered limit
/// admits nothing until enough old streams end. Slots are counted per `key` kind and value, so
/// after a reload that changes `key`, the per-client limit sees only streams admitted under the new
/// kind (the global count still sees all of them).
///
/// **Batch mode** (`shared: { batch: N, hold: D }`, see `SharedBatch`): per client key the instance
/// leases a block of slots (`StreamBlocks`) and hands them out locally; a stream waits for a script
/// only when the block is full and must grow. The block is renewed as a whole and its idle slots go
/// back after `hold`; over-admission stays zero, and up to instances × N slots per key may be held
/// free elsewhere.
public final class ConnectionManagerFilter: SharedLimitFilter {
    /// The hooks below that do something; the engine skips the rest.
    public var hooks: FilterHooks { [.onRequest, .selectUpstream, .onComplete] }

    /// One slot table, shared by an instance and the instances that replace it on reloads.
    final class SlotTable: Sendable {
        let slots = Mutex(ConnectionSlots())
    }

    /// What one admitted exchange holds, from `onRequest` to `onComplete`.
    private final class Hold {
        var key: String
        var holding = true
        /// The error `max_age` ended the exchange with, once it fired.
        var expired: ProxyError?
        /// With `shared: true`: the lease id and the client key it is filed under, when the slot is a lease.
        var lease: (id: String, client: String)?
        /// With `shared: true`: the lease asked for, from the call until its answer is settled.
        var asked: (id: String, client: String)?
        /// Batch mode: the client key of the block whose slot the exchange holds.
        var block: String?
        /// Batch mode: the grow asked for, from the call until its answer is settled.
        var grow: StreamBlocks.Grow?
        /// The answer to `asked`, kept for `onRequest`.
        var answer: Result<(ConnectionSlots.Admission, Int), SharedStoreFailure>?
        /// A lease request is on its way to Redis.
        var awaiting = false
        /// The exchange ended while `awaiting`: a lease granted later is released at once.
        var abandoned = false
        var renewal: ExchangeTimer?
        init(key: String) { self.key = key }
    }

    public let name: String
    public let limits: ConnectionSlots.Limits
    public let clientKey: ClientKey
    public let maxAge: Duration?
    public let retryAfterSeconds: Int
    private let table: SlotTable
    /// The start of a client's key in the table: the key kind and a space (`ip 10.0.0.1`).
    private let keyPrefix: String
    /// Non-nil with `shared: true` (exact mode).
    private let leases: StreamLeases?
    /// Non-nil with `shared: { batch: N }`.
    private let blocks: StreamBlocks?
    /// The shared store, in either mode.
    private var store: (any SharedStore)? { leases?.store ?? blocks?.store }

    public init(_ setup: FilterSetup) {
        let config = setup.config
        name = setup.name
        let maxStreams = config.int("max_streams", in: 1...10_000_000)
        let maxPerClient = config.int("max_streams_per_client", in: 1...10_000_000)
        limits = ConnectionSlots.Limits(global: maxStreams, perClient: maxPerClient)
        clientKey = ClientKey.decode(config, default: .clientIP)
        keyPrefix = clientKey.description + " "
        maxAge = config.duration("max_age", in: .milliseconds(1)...(.seconds(366 * 86_400)))
        retryAfterSeconds = config.int("retry_after", default: 1, in: 0...86_400)
        // `has` rather than the values: a limit that is present but malformed already has its own error.
        if !config.has("max_streams") && !config.has("max_streams_per_client") {
            config.error("connection_manager needs max_streams, max_streams_per_client or both", atValueOf: "max_streams")
        }
        table = (setup.previous as? ConnectionManagerFilter)?.table ?? SlotTable()
        let limit = maxStreams.map { ("max_streams", $0) } ?? maxPerClient.map { ("max_streams_per_client", $0) }
        let (store, batch) = SharedLimit.setting(config, setup, limit: limit)
        let limits = self.limits
        if let store, let batch {
            leases = nil
            blocks = StreamBlocks.adopting((setup.previous as? ConnectionManagerFilter)?.blocks, store: store,
                                           base: SharedLimit.keyBase(store, kind: "cm", setup: setup), batch: batch,
                                           limits: limits, clock: setup.clock)
        } else {
            leases = store.map { StreamLeases(store: $0, base: SharedLimit.keyBase($0, kind: "cm", setup: setup)) }
            blocks = nil
        }
        let labels = setup.metricDimensions
        refusedPerClient = Counter(label: "sluice_connection_manager_refused_total", dimensions: labels + [("reason", "per_client")],
                                   factory: setup.metrics)
        refusedTotal = Counter(label: "sluice_connection_manager_refused_total", dimensions: labels + [("reason", "total")],
                               factory: setup.metrics)
        maxAgeReached = Counter(label: "sluice_connection_manager_max_age_total", dimensions: labels, factory: setup.metrics)
        streamsHeld = Gauge(label: "sluice_connection_manager_active_streams", dimensions: labels, factory: setup.metrics)
    }

    private let refusedPerClient: Counter
    private let refusedTotal: Counter
    private let maxAgeReached: Counter
    private let streamsHeld: Gauge

    /// Streams holding a slot in this instance's table (shared with its reload predecessors and
    /// successors), across all workers.
    public var activeStreams: Int { table.slots.withLock { $0.active } }

    /// Client keys holding at least one slot in the table.
    public var activeClients: Int { table.slots.withLock { $0.clientCount } }

    public func onRequest(_ exchange: Exchange) -> Decision {
        let hold = exchange.existingUntypedLocal(for: self, as: Hold.self)
        // An answer the engine fetched ahead (`SharedLimitFilter`) is settled first: it may hold a lease.
        if let hold, let answer = hold.answer, let store {
            hold.answer = nil
            return settle(answer, exchange, hold, store)
        }
        // The engine runs onRequest once per exchange; should it run again, the exchange keeps one slot.
        if hold?.holding == true { return .next }
        // The age answers both questions from one reading of the clock (a call through its existential).
        let age = self.age(of: exchange)
        if let expired = expiredError(age: age) { return .reject(expired) }
        guard let store else { return admitLocally(exchange, remaining: remaining(age: age)) }
        if let blocks {
            // Batch mode: a free slot of the block answers without a round trip.
            let client = sharedClient(exchange, store)
            if blocks.acquire(client, worker: exchange.worker) {
                store.decided(locally: true)
                let hold = exchange.untypedLocal(for: self) { Hold(key: client) }
                hold.key = client
                hold.block = client
                hold.holding = true
                armMaxAge(exchange, remaining: remaining(exchange))
                return .next
            }
        }
        guard let call = sharedCall(for: exchange, orLocal: false) else { return admitLocally(exchange, remaining: remaining(exchange)) }
        store.run(call, worker: exchange.worker) { [self] answer in
            sharedCallAnswered(exchange, answer)
            guard let hold = exchange.existingUntypedLocal(for: self, as: Hold.self), let result = hold.answer else { return }
            hold.answer = nil
            exchange.resume(settle(result, exchange, hold, store))
        }
        return .suspend
    }

    /// The client's key in Redis: the key kind and the store's keyed hash of its value.
    private func sharedClient(_ exchange: Exchange, _ store: any SharedStore) -> String {
        clientKey.description + ":" + clientKey.sharedKey(for: exchange, store: store)
    }

    /// With `shared: true`, the lease this exchange asks for. Loop thread (see `SharedLimitFilter`).
    /// In batch mode, nil while the client's block has a free slot (`onRequest` then takes it
    /// locally), else the grow that gets the exchange its slot.
    public func sharedCall(for exchange: Exchange) -> SharedCall? {
        sharedCall(for: exchange, orLocal: true)
    }

    /// `orLocal`: answer nil when a free slot of the block can answer instead.
    private func sharedCall(for exchange: Exchange, orLocal: Bool) -> SharedCall? {
        guard let store, exchange.existingUntypedLocal(for: self, as: Hold.self)?.holding != true,
              expiredError(exchange) == nil else { return nil }
        let client = sharedClient(exchange, store)
        if let blocks {
            if orLocal, blocks.canAcquire(client) { return nil }
            let grow = blocks.streamGrow(client)
            let hold = exchange.untypedLocal(for: self) { Hold(key: client) }
            hold.key = client
            hold.holding = false
            hold.awaiting = true
            hold.grow = grow
            return blocks.growCall(grow)
        }
        guard let leases else { return nil }
        let id = leases.newID()
        let hold = exchange.untypedLocal(for: self) { Hold(key: client) }
        hold.key = client
        hold.holding = false
        hold.awaiting = true
        hold.asked = (id, client)
        return leases.acquireCall(id, client: client, limits: limits)
    }

    /// Keeps the answer for `onRequest`; a granted lease is held from here, so `onComplete` gives it
    /// back however the exchange ends, or is given back at once when it already ended.
    public func sharedCallAnswered(_ exchange: Exchange, _ answer: SharedStoreAnswer?) {
        if let blocks, let hold = exchange.existingUntypedLocal(for: self, as: Hold.self), let grow = hold.grow {
            hold.awaiting = false
            hold.grow = nil
            guard let result = blocks.grown(grow, answer, worker: exchange.worker) else { return }
            let granted = if case .success((.admitted, _)) = result { true } else { false }
            if hold.abandoned {
                if granted { blocks.release(grow.client) }
                return
            }
            if granted {
                hold.block = grow.client
                hold.holding = true
            }
            hold.answer = result
            return
        }
        guard let leases, let hold = exchange.existingUntypedLocal(for: self, as: Hold.self), let asked = hold.asked else { return }
        hold.awaiting = false
        hold.asked = nil
        guard let answer else { return }
        let result = StreamLeases.acquired(answer)
        let granted = if case .success((.admitted, _)) = result { true } else { false }
        if hold.abandoned {
            if granted { leases.release(asked.id, client: asked.client, worker: exchange.worker) }
            return
        }
        if granted {
            hold.lease = asked
            hold.holding = true
        }
        hold.answer = result
    }

    /// `onRequest`'s decision from the lease script's answer, or from `on_failure` without one.
    private func settle(_ result: Result<(ConnectionSlots.Admission, Int), SharedStoreFailure>, _ exchange: Exchange,
                        _ hold: Hold, _ store: any SharedStore) -> Decision {
        store.decided(locally: false)
        switch result {
        case .success((let answer, let held)):
            streamsHeld.record(held)
            if answer == .admitted {
                // A block's slot is renewed with its block; a lease on its own.
                if let leases, hold.block == nil { renewLease(exchange, hold, leases) }
                armMaxAge(exchange, remaining: remaining(exchange))
            }
            return decision(answer)
        case .failure(let failure):
            store.policyApplied(store.failurePolicy)
            switch store.failurePolicy {
            case .local: return admitLocally(exchange, remaining: remaining(exchange))
            case .open:
                // Admitted without a lease: nothing to give back, but max_age still applies.
                hold.holding = true
                armMaxAge(exchange, remaining: remaining(exchange))
                return .next
            case .closed: return .reject(SharedLimit.unavailable(filter: name, failure))
            }
        }
    }

    /// The `max_age` error when the exchange is already older than it (it waited in an earlier filter).
    private func expiredError(_ exchange: Exchange) -> ProxyError? {
        expiredError(age: age(of: exchange))
    }

    /// The `max_age` error when `age` (from `age(of:)`) is past it.
    private func expiredError(age: Duration?) -> ProxyError? {
        guard let maxAge, let age, age >= maxAge else { return nil }
        return maxAgeError(maxAge)
    }

    /// How long ago the exchange started, read now; nil without `max_age`, which alone needs it.
    private func age(of exchange: Exchange) -> Duration? {
        maxAge == nil ? nil : exchange.clock.now().since(exchange.timings.start)
    }

    /// What is left of `max_age` for the exchange (none once past it); nil without one.
    private func remaining(_ exchange: Exchange) -> Duration? {
        remaining(age: age(of: exchange))
    }

    /// What is left of `max_age` at `age` (from `age(of:)`); nil without one.
    private func remaining(age: Duration?) -> Duration? {
        guard let maxAge, let age else { return nil }
        return max(.zero, maxAge - age)
    }

    /// Takes a slot in this instance's own table (unshared, or `on_failure: local`).
    private func admitLocally(_ exchange: Exchange, remaining: Duration?) -> Decision {
        let key = keyPrefix + clientKey.key(for: exchange)
        let (answer, held) = table.slots.withLock { slots in (slots.acquire(key, within: limits), slots.active) }
        streamsHeld.record(held)
        guard answer == .admitted else { return decision(answer) }
        let hold = exchange.untypedLocal(for: self) { Hold(key: key) }
        hold.key = key
        hold.lease = nil
        hold.holding = true
        armMaxAge(exchange, remaining: remaining)
        return .next
    }

    /// `.next` for an admitted exchange, else the refusal (counted).
    private func decision(_ answer: ConnectionSlots.Admission) -> Decision {
        switch answer {
        case .clientFull:
            refusedPerClient.increment()
            return .reject(ProxyError(
                .rateLimited,
                "too many streams open at once for this client (max_streams_per_client: \(limits.perClient ?? 0))",
                source: .filter(name), retryAfterSeconds: retryAfterSeconds))
        case .globalFull:
            refusedTotal.increment()
            return .reject(ProxyError(
                .overloaded, "too many streams open at once (max_streams: \(limits.global ?? 0))",
                source: .filter(name), retryAfterSeconds: retryAfterSeconds))
        case .admitted:
            return .next
        }
    }

    /// Ends the exchange at `max_age`, `remaining` from now.
    private func armMaxAge(_ exchange: Exchange, remaining: Duration?) {
        guard let remaining, maxAge != nil else { return }
        // Handed the exchange rather than capturing it: the body holds only this filter (not even
        // `maxAge`, which it reads when it runs), which costs no allocation, and is dropped when
        // the exchange ends.
        exchange.schedule(after: remaining) { [self] exchange in endAtMaxAge(exchange) }
    }

    /// The `max_age` timer fired: ends the exchange if it still holds its place.
    private func endAtMaxAge(_ exchange: Exchange) {
        guard let maxAge, let hold = exchange.existingUntypedLocal(for: self, as: Hold.self), hold.holding else { return }
        let error = maxAgeError(maxAge)
        hold.expired = error
        maxAgeReached.increment()
        exchange.fail(error)
    }

    /// Renews the exchange's lease every third of the TTL while it holds it.
    private func renewLease(_ exchange: Exchange, _ hold: Hold, _ leases: StreamLeases) {
        hold.renewal = exchange.schedule(after: leases.renewEvery) { [weak self, weak exchange, weak hold] in
            guard let self, let exchange, let hold, hold.holding, let lease = hold.lease else { return }
            leases.renew(lease.id, client: lease.client, worker: exchange.worker)
            self.renewLease(exchange, hold, leases)
        }
    }

    public func selectUpstream(_ exchange: Exchange, _ candidates: inout [EndpointCandidate]) -> Decision {
        // Only reached after expiry when another filter retried the max_age failure.
        if let expired = exchange.existingUntypedLocal(for: self, as: Hold.self)?.expired { return .reject(expired) }
        return .next
    }

    public func onComplete(_ exchange: Exchange, _ outcome: Outcome) {
        guard let hold = exchange.existingUntypedLocal(for: self, as: Hold.self) else { return }
        if hold.awaiting { hold.abandoned = true }
        guard hold.holding else { return }
        hold.holding = false
        hold.renewal?.cancel()
        if let client = hold.block, let blocks {
            hold.block = nil
            blocks.release(client)
            return
        }
        if let lease = hold.lease, let leases {
            leases.release(lease.id, client: lease.client, worker: exchange.worker) { [streamsHeld] held in
                if let held { streamsHeld.record(held) }
            }
            return
        }
        let held = table.slots.withLock { slots in
            _ = slots.release(hold.key)
            return slots.active
        }
        streamsHeld.record(held)
    }

    private func maxAgeError(_ maxAge: Duration) -> ProxyError {
        ProxyError(.maxAge, "the stream was open longer than max_age (\(ConfigParse.durationText(maxAge)))",
                   source: .filter(name), retryable: false)
    }
}

extension ConnectionManagerFilter: SharedHoldings {
    /// Batch mode: the blocks' slots go back to Redis when the process stops. Loop thread of `worker`.
    public func giveBack(worker: Int, _ done: @escaping () -> Void) {
        guard let blocks else { return done() }
        blocks.giveBackAll(worker: worker, done)
    }
}
