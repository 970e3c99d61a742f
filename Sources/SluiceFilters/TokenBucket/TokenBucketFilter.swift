import SluiceFilterAPI
import SluiceHTTP
import Synchronization

/// The `token_bucket` filter: rate limiting with one token bucket per client key.
///
/// ```yaml
/// - filter: token_bucket
///   config: { key: { header: x-api-key }, capacity: 60, refill_per_second: 1 }
/// ```
///
/// | key | default | meaning |
/// |---|---|---|
/// | `key` | `ip` | which bucket a request draws from: `ip`, `{ header: NAME }` (kept only as a hash), `route` or `global` (see `ClientKey`) |
/// | `capacity` | required | the most a bucket holds, in requests (or model tokens in `mode: tokens`); 1 to 10¹² |
/// | `refill_per_second` | required | what a bucket regains per second, fractions allowed (`2.5`); `0` never refills |
/// | `cost` | `1` | what each request takes in `mode: requests`; at most `capacity` |
/// | `mode` | `requests` | `requests` counts requests; `tokens` counts model tokens: reserve an estimate at admission, settle from the stream's usage |
/// | `charge` | `request` | `mode: requests`: when a request is charged. `request`: in `onRequest`, before any filter of the chain looked at the body; `body`: the body is read (up to `bodyLimit`) and the charge is in `onRequestBody`, in chain order |
/// | `default_max_tokens` | `1024` | `mode: tokens`: the completion allowance reserved when the body has no `max_tokens` / `max_completion_tokens` |
/// | `max_buckets` | `100000` | the most buckets kept; past it the least recently used bucket is dropped |
/// | `idle_eviction` | `10m` | a bucket unused this long is dropped; never less than the time a bucket takes to refill from its lowest level, so dropping one never hands out tokens |
///
/// Answers. An admitted request's response (the upstream's, or any error) carries
/// `RateLimit-Limit` (the capacity), `RateLimit-Remaining` (whole tokens left after this request)
/// and `RateLimit-Reset` (seconds until the bucket is full again). A refused request gets 429
/// `rate_limited` in the client's dialect, with `Retry-After` (seconds until the bucket holds what
/// the request needs) and the same three headers. With `refill_per_second: 0` nothing can say
/// when tokens come back, so `Retry-After` and `RateLimit-Reset` are left out. When several
/// `token_bucket` filters admit a request, the headers of the one with the fewest remaining win;
/// the one that refuses always wins.
///
/// When a request is charged. Every filter's `onRequest` runs before any filter's `onRequestBody`.
/// With `charge: request` a request that a filter then refuses for its body has been charged,
/// wherever that filter is listed. With `charge: body` (and always in `mode: tokens`) the charge
/// is in `onRequestBody`, in chain order: a filter listed before this one that refuses a request
/// for its body costs the client nothing. `charge: body` makes the chain read every request's
/// body before any upstream request; a body over `bodyLimit` gets 413.
///
/// `mode: tokens` (LLM tokens instead of requests):
/// - Admission (`onRequestBody`; the body is read up to `bodyLimit`): reserve the
///   `LLMRequestEstimate` of the body (prompt characters / 4 plus the completion allowance), at
///   most a full bucket, so a large request waits for a full bucket instead of never fitting.
/// - Usage: a streaming OpenAI chat/completions request without `stream_options.include_usage`
///   gets it added on the way to the upstream, and the usage chunk it causes is removed from
///   what the client receives (a finish chunk that also carries usage loses only its `usage`).
///   Removing events needs `rewritesEvents`, which makes the whole chain forward whole events
///   rather than bytes as they arrive; that is the price of this mode.
/// - Settlement (`onComplete`), what is charged in the end instead of the reservation:
///
///   | how the exchange ended | charged |
///   |---|---|
///   | refused by a filter (this one or another) | nothing |
///   | the stream reported usage | its prompt + completion tokens (the prompt estimate when it gives no prompt count) |
///   | a non-streamed 2xx JSON response | its `usage` (the engine reads it from bodies up to 1 MiB); the reservation when it has none |
///   | anything else (client gone, stream cut, upstream error) | the prompt estimate + the content events counted |
///
///   The difference is refunded, or charged as a debt (the level may drop to `-capacity`).
///
/// `shared: true` (with a `shared_state:` section): the buckets live in Redis, shared by every
/// instance (see `SharedTokenBucket`); a header key reaches Redis only through the store's keyed
/// hash. Each admission waits for one script run on the server; when Redis gives no answer within
/// `shared_state.timeout`, `on_failure` decides: `local` uses this instance's own bucket as if
/// unshared, `open` admits, `closed` answers 503. In `mode: tokens` the settlement is a second
/// script run at the end of the exchange; an exchange that ends while its reservation is still
/// on its way gives it back as soon as it is granted.
///
/// `shared: { batch: N, hold: D }` (batch mode, see `SharedBatch`): the instance holds a slice of up
/// to N tokens of each bucket it uses (`SharedTokenSlices`) and answers from it with no round trip;
/// a take the slice cannot pay for runs the script as above and refills the slice in the same step.
/// In `mode: tokens` reservations and settlements go against the slice while it can absorb them.
/// Overshoot stays zero; up to instances × N tokens may be held unused elsewhere for up to `hold`.
/// On a locally answered request `RateLimit-Remaining` is the bucket's level at the last round trip
/// plus the slice, and `RateLimit-Reset` is left out.
///
/// Threads: one instance serves every worker; the buckets live in one `Mutex`-guarded
/// `TokenBucketStore`, and each admission is a single check-and-take under the lock, so parallel
/// requests never overshoot the bucket. Across a reload the filter keeps its identity through
/// chain and name: the new instance adopts the old one's buckets (unless `key` changed), each
/// kept as full in proportion as it was when the capacity changes.
public final class TokenBucketFilter: SharedLimitFilter, StatefulFilter {
    /// The hooks below that do something; the engine skips the rest.
    public var hooks: FilterHooks { [.onRequest, .onRequestBody, .onComplete] }

    /// What a bucket counts.
    public enum Mode: String, CaseIterable, Sendable {
        case requests, tokens
    }

    /// When `mode: requests` charges a request.
    public enum ChargePoint: String, CaseIterable, Sendable {
        /// In `onRequest`, before any filter looked at the body.
        case request
        /// In `onRequestBody`, in chain order, once the body is in.
        case body
    }

    /// How much request body `mode: tokens` (and `charge: body`) reads. Larger bodies get 413.
    public static let bodyLimit = 16 * 1024 * 1024

    public let name: String
    public let mode: Mode
    /// When a request is charged in `mode: requests` (`mode: tokens` always charges once the body is in).
    public let charge: ChargePoint
    public let keying: ClientKey
    public let settings: TokenBucket.Settings
    /// What one request costs in `mode: requests`.
    public let cost: Int
    public let defaultMaxTokens: Int
    public let maxBuckets: Int
    /// The idle time after which a bucket is dropped, as applied (see `idle_eviction`).
    public let idleEviction: Duration
    private let configuration: TokenBucketStore.Configuration
    let buckets: SharedTokenBuckets
    /// This instance's configuration of `buckets`: higher than the store's when a reload made it.
    private let generation: Int
    private let clock: any SluiceClock
    /// `sluice_rate_limited_total` for this instance.
    private let rateLimited: Counter
    /// `RateLimit-Limit`, the capacity in whole tokens, formatted once: every answer carries it.
    private let limitText: String
    /// Non-nil with `shared: true`: the buckets in Redis.
    let shared: SharedTokenBucket?
    /// Non-nil with `shared: { batch: N }`: the slices of the Redis buckets this instance holds.
    let slices: SharedTokenSlices?

    public var requestBodyLimit: Int? { mode == .tokens || charge == .body ? Self.bodyLimit : nil }
    public var wantsEvents: Bool { mode == .tokens }
    public var rewritesEvents: Bool { mode == .tokens }

    /// Reads the config (problems are recorded in `setup.config` with their positions) and adopts
    /// the buckets of `setup.previous` when it is a `token_bucket` with the same `key`.
    public init(_ setup: FilterSetup) {
        let config = setup.config
        name = setup.name
        clock = setup.clock
        rateLimited = Counter(label: "sluice_rate_limited_total", dimensions: setup.metricDimensions, factory: setup.metrics)
        keying = ClientKey.decode(config, default: .clientIP)

        config.require("capacity")
        let readCapacity = config.int("capacity", in: 1...1_000_000_000_000)
        let capacity = readCapacity ?? 1
        config.require("refill_per_second")
        let refill = config.double("refill_per_second", in: 0...1e12) ?? 0
        settings = TokenBucket.Settings(capacity: capacity, refillPerSecond: refill)
        limitText = Self.decimal(settings.capacityTokens)

        mode = config.oneOf("mode", Mode.self, default: .requests)
        charge = config.oneOf("charge", ChargePoint.self, default: .request)
        if mode == .tokens, config.has("charge") {
            config.error("'charge' applies to mode: requests only; mode: tokens always charges once the body is in",
                         atValueOf: "charge")
        }
        let askedCost = config.int("cost", in: 1...1_000_000_000_000)
        let askedMaxTokens = config.int("default_max_tokens", in: 0...100_000_000)
        if mode == .tokens, askedCost != nil {
            config.error("'cost' applies to mode: requests only; in mode: tokens a request costs its model tokens",
                         atValueOf: "cost")
        }
        if mode == .requests, askedMaxTokens != nil {
            config.error("'default_max_tokens' applies to mode: tokens only", atValueOf: "default_max_tokens")
        }
        if let askedCost, let readCapacity, askedCost > readCapacity {
            config.error("'cost' (\(askedCost)) must not exceed 'capacity' (\(capacity)): no request could ever pass",
                         atValueOf: "cost")
        }
        cost = min(askedCost ?? 1, capacity)
        defaultMaxTokens = askedMaxTokens ?? 1024
        maxBuckets = config.int("max_buckets", default: 100_000, in: 1...100_000_000)
        let idle = config.duration("idle_eviction", default: .seconds(600), in: .seconds(1)...Duration.seconds(7 * 86_400))
        idleEviction = max(idle, settings.timeToRefillFromLowest ?? .zero)
        configuration = TokenBucketStore.Configuration(settings: settings, maxBuckets: maxBuckets, idleAfter: idleEviction)
        let settings = self.settings, expiry = idleEviction
        let (store, batch) = SharedLimit.setting(config, setup, limit: readCapacity.map { ("capacity", $0) })
        if let batch, mode == .requests, let askedCost, batch.size < askedCost {
            config.map("shared")?.error("'batch' (\(batch.size)) must be at least 'cost' (\(askedCost)): a smaller slice "
                                        + "never pays for a request", atValueOf: "batch")
        }
        let shared = store.map {
            SharedTokenBucket(store: $0, base: SharedLimit.keyBase($0, kind: "tb", setup: setup), settings: settings, expiry: expiry)
        }
        self.shared = shared
        if let shared, let batch {
            // A reload that keeps the bucket (same keys, shape and batch) keeps the tokens held for it.
            if let kept = (setup.previous as? TokenBucketFilter)?.slices, kept.batch == batch, kept.bucket.base == shared.base,
               kept.bucket.settings == settings {
                slices = kept
            } else {
                slices = SharedTokenSlices(bucket: shared, batch: batch, clock: setup.clock)
            }
        } else {
            slices = nil
        }

        if let previous = setup.previous as? TokenBucketFilter, previous.keying == keying {
            buckets = previous.buckets
            generation = previous.generation + 1
        } else {
            buckets = SharedTokenBuckets(TokenBucketStore(configuration))
            generation = 0
        }
    }

    // MARK: - Hooks

    /// `mode: requests` with `charge: request`: takes `cost` from the client's bucket, or refuses
    /// with 429. Loop thread.
    public func onRequest(_ exchange: Exchange) -> Decision {
        guard mode == .requests, charge == .request else { return .next }
        return takeCost(exchange)
    }

    /// Takes `cost` from the client's bucket (here, from the slice, or through Redis), or refuses
    /// with 429.
    private func takeCost(_ exchange: Exchange) -> Decision {
        if let take = exchange.existingUntypedLocal(for: self, as: SharedTake.self), let answer = take.answer {
            // Fetched ahead by the engine (`SharedLimitFilter`).
            take.answer = nil
            return settle(answer, exchange)
        }
        guard let shared else {
            let admission = admit(key: keying.key(for: exchange), tokens: cost)
            return answer(admission, exchange) { refusal(admission) }
        }
        let client = keying.sharedKey(for: exchange, store: shared.store)
        if let slices {
            if let remaining = slices.take(cost, client: client, worker: exchange.worker) {
                shared.store.decided(locally: true)
                return answer(sliceAdmission(remaining), exchange) { "" }
            }
            let extra = slices.extra(besides: cost, client: client)
            shared.store.run(shared.sliceCall(cost, extra: extra, client: client), worker: exchange.worker) { [self] answer in
                slices.received(answer, extra: extra, prefetch: false, taking: cost, client: client, worker: exchange.worker)
                shared.store.decided(locally: false)
                exchange.resume(settle(shared.admission(answer), exchange))
            }
            return .suspend
        }
        shared.store.run(shared.takeCall(cost, client: client), worker: exchange.worker) { [self] answer in
            shared.store.decided(locally: false)
            exchange.resume(settle(shared.admission(answer), exchange))
        }
        return .suspend
    }

    /// What a take from the slice tells the client: admitted, with `remaining` as the bucket had it
    /// at the last round trip plus what this instance holds. No reset: only Redis knows it.
    private func sliceAdmission(_ remaining: Int) -> Admission {
        Admission(admitted: true, limit: settings.capacityTokens, remaining: remaining, retryAfter: nil, reset: nil)
    }

    /// With `shared: true` in `mode: requests`, the take this exchange asks for. Loop thread (see
    /// `SharedLimitFilter`).
    /// In batch mode, nil while the client's slice holds the cost (`onRequest` then takes it
    /// locally), else the take that also refills the slice.
    public func sharedCall(for exchange: Exchange) -> SharedCall? {
        guard mode == .requests, charge == .request, let shared else { return nil }
        let client = keying.sharedKey(for: exchange, store: shared.store)
        guard let slices else { return shared.takeCall(cost, client: client) }
        if slices.canTake(cost, client: client) { return nil }
        let take = exchange.untypedLocal(for: self) { SharedTake() }
        take.extra = slices.extra(besides: cost, client: client)
        take.client = client
        return shared.sliceCall(cost, extra: take.extra, client: client)
    }

    /// Keeps the answer for `onRequest`; in batch mode the extra tokens granted go to the slice at
    /// once. A take has nothing to give back: like a request refused by a later filter, an exchange
    /// that ended meanwhile keeps what it took.
    public func sharedCallAnswered(_ exchange: Exchange, _ answer: SharedStoreAnswer?) {
        guard let shared else { return }
        if let slices, let take = exchange.existingUntypedLocal(for: self, as: SharedTake.self), let client = take.client {
            take.client = nil
            slices.received(answer, extra: take.extra, prefetch: false, taking: cost, client: client, worker: exchange.worker)
        }
        guard let answer else { return }
        shared.store.decided(locally: false)
        exchange.untypedLocal(for: self) { SharedTake() }.answer = shared.admission(answer)
    }

    /// `onRequest`'s decision from the bucket script's answer, or from `on_failure` without one.
    private func settle(_ result: Result<Admission, SharedStoreFailure>, _ exchange: Exchange) -> Decision {
        switch result {
        case .success(let admission):
            return answer(admission, exchange) { refusal(admission) }
        case .failure(let failure):
            return fallback(failure, exchange) {
                let admission = admit(key: keying.key(for: exchange), tokens: cost)
                return answer(admission, exchange) { refusal(admission) }
            }
        }
    }

    private func refusal(_ admission: Admission) -> String {
        "rate limit exceeded: at most \(admission.limit) requests, refilling \(refillText) per second"
    }

    /// The answer of `on_failure` when Redis gave none; `local` runs this instance's own check.
    private func fallback(_ failure: SharedStoreFailure, _ exchange: Exchange, local: () -> Decision) -> Decision {
        guard let store = shared?.store else { return local() }
        store.policyApplied(store.failurePolicy)
        switch store.failurePolicy {
        case .local: return local()
        case .open: return .next
        case .closed: return .reject(SharedLimit.unavailable(filter: name, failure))
        }
    }

    /// `mode: tokens`: estimates the request, adds `stream_options.include_usage` where it is
    /// missing, and reserves the estimate, or refuses with 429. `mode: requests` with
    /// `charge: body`: takes `cost`, or refuses with 429. Loop thread.
    public func onRequestBody(_ exchange: Exchange) -> Decision {
        guard mode == .tokens else { return charge == .body ? takeCost(exchange) : .next }
        let body = exchange.requestBody ?? []
        let estimate = LLMRequestEstimate(body: body, defaultMaxTokens: defaultMaxTokens)
        // A request larger than the bucket waits for a full bucket rather than never passing.
        let reservation = min(estimate.totalTokens, settings.capacityTokens)
        let local = { [self] () -> Decision in
            let key = keying.key(for: exchange)
            return reserve(admit(key: key, tokens: reservation), key: key, inRedis: false, estimate, exchange)
        }
        guard let shared else { return local() }
        let client = keying.sharedKey(for: exchange, store: shared.store)
        if let slices, let remaining = slices.take(reservation, client: client, worker: exchange.worker) {
            shared.store.decided(locally: true)
            return reserve(sliceAdmission(remaining), key: client, inRedis: true, estimate, exchange)
        }
        let state = exchange.state(for: self)
        state.awaiting = true
        let extra = slices?.extra(besides: reservation, client: client) ?? 0
        let call = slices == nil ? shared.takeCall(reservation, client: client)
            : shared.sliceCall(reservation, extra: extra, client: client)
        shared.store.run(call, worker: exchange.worker) { [self] answer in
            slices?.received(answer, extra: extra, prefetch: false, taking: reservation, client: client, worker: exchange.worker)
            shared.store.decided(locally: false)
            let result = shared.admission(answer)
            state.awaiting = false
            if state.abandoned {
                // The exchange ended while the reservation was on its way: give it straight back.
                if case .success(let admission) = result, admission.admitted {
                    if let slices {
                        slices.settle(reservation, client: client, worker: exchange.worker)
                    } else {
                        shared.adjust(by: -reservation, client: client, worker: exchange.worker)
                    }
                }
                return
            }
            switch result {
            case .success(let admission):
                exchange.resume(reserve(admission, key: client, inRedis: true, estimate, exchange))
            case .failure(let failure):
                exchange.resume(fallback(failure, exchange, local: local))
            }
        }
        return .suspend
    }

    /// Records an admitted reservation for settlement and adds `include_usage` where needed, or
    /// answers the refusal.
    private func reserve(_ admission: Admission, key: String, inRedis: Bool, _ estimate: LLMRequestEstimate,
                         _ exchange: Exchange) -> Decision {
        let reservation = min(estimate.totalTokens, settings.capacityTokens)
        guard admission.admitted else {
            return answer(admission, exchange) {
                "token rate limit exceeded: this request needs about \(reservation) tokens and fewer are available"
            }
        }
        let state = exchange.state(for: self)
        state.key = key
        state.inRedis = inRedis
        state.reserved = reservation
        state.promptEstimate = estimate.promptTokens
        let body = exchange.requestBody ?? []
        if estimate.stream, !estimate.includesUsage, Self.takesStreamOptions(exchange),
           let changed = LLMRequestEstimate.addingIncludeUsage(to: body) {
            exchange.requestBody = changed
            state.addedIncludeUsage = true
        }
        return answer(admission, exchange) { "" }
    }

    /// Removes the usage chunk that only this filter asked for. Loop thread.
    public func onEvent(_ exchange: Exchange, _ event: inout SSEEvent, _ info: LLMEventInfo) -> EventDecision {
        guard info.kind == .usage,
              let state = exchange.existingState(for: self), state.addedIncludeUsage else { return .pass }
        guard info.finishReason != nil else { return .drop }
        // A finish chunk that also carries usage: the client needs the finish, not the usage.
        guard let stripped = LLMRequestEstimate.removingUsage(from: event.data) else { return .pass }
        event.data = stripped
        return .modified
    }

    /// `mode: tokens`: settles the reservation against what the exchange used (see the table
    /// above) and refunds or charges the difference. Loop thread.
    public func onComplete(_ exchange: Exchange, _ outcome: Outcome) {
        guard let state = exchange.existingState(for: self) else { return }
        if state.awaiting { state.abandoned = true }
        guard !state.settled, let key = state.key else { return }
        state.settled = true
        let used = Self.tokensUsed(exchange, outcome, state)
        let difference = state.reserved - used
        guard difference != 0 else { return }
        if state.inRedis, let shared {
            if let slices {
                slices.settle(difference, client: key, worker: exchange.worker)
            } else {
                shared.adjust(by: -difference, client: key, worker: exchange.worker)
            }
            return
        }
        let now = clock.now()
        withStore(now: now) { store in
            if difference > 0 {
                // A refund to a bucket that was dropped meanwhile has nowhere to go: a new one starts full.
                _ = store.withExistingBucket(key, now: now) { bucket, settings in
                    bucket.adjust(by: difference, settings, now: now)
                }
            } else {
                store.withBucket(key, now: now) { bucket, settings in bucket.adjust(by: difference, settings, now: now) }
            }
        }
    }

    // MARK: - Inspection

    /// The level of `key`'s bucket in tokens, refilled to now; the capacity when it has none.
    /// Any thread. For tests and diagnostics: it does not mark the bucket used.
    public func level(forKey key: String) -> Double {
        let now = clock.now()
        return withStore(now: now) { store in
            guard var bucket = store.peek(key) else { return Double(store.settings.capacityTokens) }
            bucket.refill(store.settings, to: now)
            return bucket.tokens
        }
    }

    /// How many buckets are held. Any thread.
    public var bucketCount: Int {
        withStore(now: clock.now()) { $0.count }
    }

    /// Buckets looked at for the console: the most recently used ones.
    static let consoleBuckets = 1000
    /// A bucket under this share of its capacity counts as near empty on the console.
    static let nearEmptyShare = 0.1

    // MARK: - Admission

    /// What a bucket said about one request.
    struct Admission {
        var admitted: Bool
        var limit: Int
        var remaining: Int
        /// Until the bucket holds what the request needs (refused) — nil when it never will.
        var retryAfter: Duration?
        /// Until the bucket is full; nil when it never refills.
        var reset: Duration?
    }

    /// One check-and-take under the store's lock.
    private func admit(key: String, tokens: Int) -> Admission {
        let now = clock.now()
        return withStore(now: now) { store in
            store.withBucket(key, now: now) { bucket, settings in
                let admitted = bucket.take(tokens, settings, now: now)
                return Admission(
                    admitted: admitted, limit: settings.capacityTokens, remaining: bucket.wholeTokens,
                    retryAfter: admitted ? nil : bucket.time(untilAvailable: tokens, settings),
                    reset: bucket.timeUntilFull(settings))
            }
        }
    }

    /// `.next` with the RateLimit headers, or `.reject` with a 429 that carries them and `Retry-After`.
    private func answer(_ admission: Admission, _ exchange: Exchange, refusal: () -> String) -> Decision {
        guard !admission.admitted else {
            // An earlier filter's headers that report fewer remaining stay, and nothing is made.
            if !Self.earlierHeadersAreStricter(exchange, remaining: admission.remaining) {
                setRateLimitHeaders(admission, on: exchange)
            }
            return .next
        }
        let headers = setRateLimitHeaders(admission, on: exchange)
        let retryAfter = admission.retryAfter.map { max(1, TokenBucket.wholeSeconds(roundingUp: $0)) }
        rateLimited.increment()
        return .reject(ProxyError(.rateLimited, refusal(), source: .filter(name), retryAfterSeconds: retryAfter,
                                  headers: headers))
    }

    /// `String(value)`, written straight into the string: the generic conversion cost about 300
    /// instructions per header, three headers per request.
    private static func decimal(_ value: Int) -> String {
        guard value >= 0 else { return String(value) }
        // `RateLimit-Reset` is a second or so while a bucket refills fast.
        if value < smallDecimals.count { return smallDecimals[value] }
        // The digits in one pass, from the end of a buffer on the stack (an Int has at most 19).
        var space: (UInt64, UInt64, UInt64) = (0, 0, 0)
        return withUnsafeMutableBytes(of: &space) { raw in
            let bytes = raw.bindMemory(to: UInt8.self)
            var start = bytes.count
            var rest = value
            repeat {
                start -= 1
                bytes[start] = UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: rest % 10)
                rest /= 10
            } while rest > 0
            return String(decoding: UnsafeBufferPointer(rebasing: bytes[start...]), as: UTF8.self)
        }
    }

    /// `decimal` of 0 to 99, made once.
    private static let smallDecimals: [String] = (0..<100).map { String($0) }

    /// Whether an earlier filter set RateLimit-Remaining to at most `remaining`.
    private static func earlierHeadersAreStricter(_ exchange: Exchange, remaining: Int) -> Bool {
        guard !exchange.responseHeaders.isEmpty,
              let earlier = exchange.responseHeaders.last(where: { $0.0.lowercased() == "ratelimit-remaining" }),
              let earlierRemaining = Int(earlier.1) else { return false }
        return earlierRemaining <= remaining
    }

    /// Puts the RateLimit headers of `admission` into `exchange.responseHeaders` in place of any
    /// RateLimit-* an earlier filter set (the engine would otherwise send both), and returns them.
    @discardableResult
    private func setRateLimitHeaders(_ admission: Admission, on exchange: Exchange) -> [(String, String)] {
        // The capacity is this filter's unless a reload changed the buckets' (older exchanges).
        let limit = admission.limit == settings.capacityTokens ? limitText : Self.decimal(admission.limit)
        let remaining = Self.decimal(admission.remaining)
        // Literals: an array made at its size, rather than reserved and then appended to.
        let headers: [(String, String)]
        if let reset = admission.reset {
            headers = [("RateLimit-Limit", limit), ("RateLimit-Remaining", remaining),
                       ("RateLimit-Reset", Self.decimal(TokenBucket.wholeSeconds(roundingUp: reset)))]
        } else {
            headers = [("RateLimit-Limit", limit), ("RateLimit-Remaining", remaining)]
        }
        if exchange.responseHeaders.isEmpty {
            exchange.responseHeaders = headers
        } else {
            exchange.responseHeaders.removeAll { $0.0.lowercased().hasPrefix("ratelimit-") }
            exchange.responseHeaders.append(contentsOf: headers)
        }
        return headers
    }

    // MARK: - Settlement

    /// Per-exchange state in `mode: tokens`.
    /// `mode: requests` with `shared: true`: the answer of a take fetched ahead, until `onRequest`.
    final class SharedTake {
        var answer: Result<Admission, SharedStoreFailure>?
        /// Batch mode: the extra tokens the take asked for the slice, and the client key until the
        /// answer came.
        var extra = 0
        var client: String?
    }

    /// Per-exchange state in `mode: tokens`: the reservation and how it is settled. (A shared take
    /// in `mode: requests`, `SharedTake`, stays keyed by the filter's identity: its answer may
    /// arrive after the exchange ended, when typed states are gone, and must still find it.)
    public typealias ExchangeState = Reservation
    public let stateSlot = ExchangeStateSlot()
    public func makeState(for exchange: Exchange) -> Reservation { Reservation() }

    public final class Reservation {
        var key: String?
        var reserved = 0
        var promptEstimate = 0
        /// This filter added `stream_options.include_usage`; the usage chunk is not the client's.
        var addedIncludeUsage = false
        var settled = false
        /// The reservation is in the Redis bucket (`shared: true`), not this instance's.
        var inRedis = false
        /// A shared take is on its way to Redis.
        var awaiting = false
        /// The exchange ended while `awaiting`: a reservation granted later is given back at once.
        var abandoned = false
    }

    /// What the exchange is charged in the end (the table in the type's comment).
    private static func tokensUsed(_ exchange: Exchange, _ outcome: Outcome, _ state: Reservation) -> Int {
        if outcome.kind == .rejected { return 0 }
        if let usage = exchange.tokens.usage {
            let prompt = usage.promptTokens ?? state.promptEstimate
            let completion = usage.completionTokens ?? exchange.tokens.contentEvents
            return clampedSum(prompt, completion)
        }
        if !exchange.isEventStream, outcome.kind == .completed, let status = exchange.response?.status, (200..<300).contains(status) {
            return state.reserved
        }
        return clampedSum(state.promptEstimate, exchange.tokens.completionTokens)
    }

    private static func clampedSum(_ a: Int, _ b: Int) -> Int {
        let (sum, overflow) = max(0, a).addingReportingOverflow(max(0, b))
        return overflow ? Int.max / 2 : sum
    }

    /// OpenAI chat completions and completions take `stream_options`.
    private static func takesStreamOptions(_ exchange: Exchange) -> Bool {
        guard exchange.dialect == .openai else { return false }
        let path = exchange.request.path
        return path.hasSuffix("/chat/completions") || path.hasSuffix("/completions")
    }

    // MARK: - Helpers

    private func withStore<Result>(now: MonotonicInstant, _ body: (inout TokenBucketStore) -> Result) -> Result {
        buckets.withStore(generation: generation, configuration: configuration, now: now, body)
    }

    private var refillText: String {
        let perSecond = Double(settings.refillPerSecond) / Double(TokenBucket.unitsPerToken)
        return perSecond == perSecond.rounded() ? String(Int(perSecond)) : String(perSecond)
    }
}

/// The buckets of one `token_bucket` filter, shared by every worker (and, across a reload, by the
/// old and the new instance). Any thread.
final class SharedTokenBuckets: Sendable {
    private let store: Mutex<TokenBucketStore>

    init(_ store: TokenBucketStore) {
        self.store = Mutex(store)
    }

    /// Runs `body` under the lock. A caller with a newer `generation` than the store's (a filter
    /// made by a reload) first brings the store to its configuration: done here, on first use,
    /// rather than when the new filter is made, so a reload that fails later leaves the running
    /// filter's buckets untouched. Callers with an older generation (exchanges still finishing on
    /// the old chain) use the store as it is.
    func withStore<Result>(generation: Int, configuration: TokenBucketStore.Configuration, now: MonotonicInstant,
                           _ body: (inout TokenBucketStore) -> Result) -> Result {
        store.withLock { store in
            if generation > store.generation {
                store.reconfigure(configuration, now: now)
                store.generation = generation
            }
            return body(&store)
        }
    }
}

extension TokenBucketFilter: SharedHoldings {
    /// Batch mode: the slices' unspent tokens go back to their buckets when the process stops.
    /// Loop thread of `worker`.
    public func giveBack(worker: Int, _ done: @escaping () -> Void) {
        guard let slices else { return done() }
        slices.giveBackAll(worker: worker, done)
    }
}

extension TokenBucketFilter: ReportsLiveFigures {
    /// For the console: `buckets` held, and over the 1,000 most recently used, `buckets_near_empty`
    /// (under 10% of capacity) and `lowest_bucket_percent`. Nothing with `shared: true` (the
    /// buckets are in Redis). Control thread; holds the buckets' lock for that bounded walk.
    public func liveFigures() -> [LiveFigure] {
        guard shared == nil else { return [] }
        let now = clock.now()
        let (count, fill) = withStore(now: now) { store in
            (store.count, store.fill(now: now, limit: Self.consoleBuckets, nearEmpty: Self.nearEmptyShare))
        }
        var figures = [LiveFigure("buckets", Double(count)), LiveFigure("buckets_near_empty", Double(fill.nearEmpty))]
        if let lowest = fill.lowest { figures.append(LiveFigure("lowest_bucket_percent", (lowest * 1000).rounded() / 10)) }
        return figures
    }
}
