import SluiceFilterAPI

/// The circuit breaker of one upstream endpoint: closed, open or half-open.
///
/// Pure: no clock, no lock, no I/O. Every call takes the time (`at:`) and the settings, so
/// `CircuitBreakerFilter` can keep one breaker per endpoint behind a `Mutex`, hand the same table to
/// the instance a reload builds (with possibly different settings), and tests can drive it with
/// instants of their choosing.
///
/// **Closed.** Every request may pass. Results are counted in a sliding window of
/// `Settings.window`; the breaker opens when a failure brings the window to the threshold:
/// - `.failures(n)`: n failures within the last `window` (exact: each failure's instant is kept,
///   at most n of them);
/// - `.ratio(r, minimumRequests: m)`: at least m results (successes and failures) in the window,
///   and failures / results ≥ r. Results are counted in ten slices of `window / 10`; the window is
///   the slice now under way and the nine before it, so a result leaves it between 0.9 × window
///   and 1 × window after it was recorded.
///
/// **Open.** Nothing passes (`check` and `admit` answer `.refused` with the time left) until the
/// open time has passed; then the breaker is half-open. The open time is
/// `openDuration × 2^(opens − 1)`, at most `maxOpenDuration`, where `opens` counts the times the
/// breaker opened since it was last closed: with `maxOpenDuration == openDuration` it never grows.
///
/// **Half-open.** Up to `halfOpenProbes` requests are admitted as probes. When that many probes
/// succeeded the breaker closes (with an empty window, and `opens` back to 0); the first probe that
/// fails opens it again, for longer. A probe that ends neither way (`record(nil, …)`, e.g. the client
/// left) gives its place back to another probe. While every place is taken, requests are refused
/// with a retry-after of one second.
///
/// **Tickets.** Every admission hands out a `Ticket`; results are recorded against it. A result whose
/// ticket comes from an earlier state (a request admitted while closed that ends after the breaker
/// opened, or a non-probe that ends while half-open) is ignored: each state judges only the
/// requests it let through.
public struct CircuitBreaker: Sendable, Equatable {
    /// How a breaker behaves. Passed to every call rather than stored, because a reload may change
    /// the settings of breakers whose state carries over.
    public struct Settings: Sendable, Equatable {
        /// When a closed breaker opens.
        public enum Threshold: Sendable, Equatable {
            /// This many failures within the window.
            case failures(Int)
            /// At least this share of failures (0 < ratio ≤ 1) among at least `minimumRequests`
            /// results within the window.
            case ratio(Double, minimumRequests: Int)
        }

        public var threshold: Threshold
        /// How far back a closed breaker counts results.
        public var window: Duration
        /// How long the breaker stays open the first time.
        public var openDuration: Duration
        /// The longest it stays open as the open time doubles with each reopen; a value not above
        /// `openDuration` keeps the open time fixed.
        public var maxOpenDuration: Duration
        /// Probes a half-open breaker lets through; as many successes close it.
        public var halfOpenProbes: Int

        public init(threshold: Threshold = .failures(5), window: Duration = .seconds(10), openDuration: Duration = .seconds(30),
                    maxOpenDuration: Duration? = nil, halfOpenProbes: Int = 1) {
            self.threshold = threshold
            self.window = window
            self.openDuration = openDuration
            self.maxOpenDuration = maxOpenDuration ?? openDuration
            self.halfOpenProbes = halfOpenProbes
        }
    }

    public enum State: Sendable, Equatable {
        case closed
        /// Refusing until `until`.
        case open(until: MonotonicInstant)
        case halfOpen
    }

    /// What one request did to the endpoint's health.
    public enum Result: Sendable, Equatable {
        case success, failure
    }

    /// Proof of an admission: which state let the request through, and whether as a probe.
    public struct Ticket: Sendable, Hashable {
        public let generation: UInt64
        public let isProbe: Bool
    }

    /// What `check` found, without taking anything.
    public enum Check: Sendable, Equatable {
        /// Closed: a request may pass with this ticket.
        case closed(Ticket)
        /// Half-open with a free probe place: `admit` would take it.
        case probeAvailable
        /// Open, or half-open with every probe place taken: ask again after this long.
        case refused(retryAfter: Duration)
    }

    public enum Admission: Sendable, Equatable {
        case admitted(Ticket)
        case refused(retryAfter: Duration)
    }

    private struct Slice: Sendable, Equatable {
        var index: Int64
        var successes = 0
        var failures = 0
    }

    private var phase: State = .closed
    /// Changes with every state change; tickets of other generations are stale.
    private var generation: UInt64 = 0
    /// Times opened since the breaker was last closed; sets the open time.
    public private(set) var opens = 0
    private var probesAdmitted = 0
    private var probeSuccesses = 0
    /// `.failures` mode: instants of the most recent failures, oldest first.
    private var failureTimes: [MonotonicInstant] = []
    /// `.ratio` mode: ten slices of the window, as a ring indexed by slice number.
    private var slices: [Slice] = []
    private var sliceWidth: Int64 = 0

    public init() {}

    /// The state at `now` (an open breaker whose time is up is half-open from then on).
    public mutating func state(at now: MonotonicInstant) -> State {
        refresh(now)
        return phase
    }

    /// Whether a request could pass now, without admitting it (no probe place is taken).
    public mutating func check(at now: MonotonicInstant, _ settings: Settings) -> Check {
        refresh(now)
        switch phase {
        case .closed:
            return .closed(Ticket(generation: generation, isProbe: false))
        case .open(let until):
            return .refused(retryAfter: until.since(now))
        case .halfOpen:
            return probesAdmitted < settings.halfOpenProbes ? .probeAvailable : .refused(retryAfter: .seconds(1))
        }
    }

    /// Lets a request through, taking a probe place when half-open, or refuses it.
    public mutating func admit(at now: MonotonicInstant, _ settings: Settings) -> Admission {
        switch check(at: now, settings) {
        case .closed(let ticket):
            return .admitted(ticket)
        case .probeAvailable:
            probesAdmitted += 1
            return .admitted(Ticket(generation: generation, isProbe: true))
        case .refused(let retryAfter):
            return .refused(retryAfter: retryAfter)
        }
    }

    /// Records how the request admitted with `ticket` went; nil when it says nothing about the
    /// endpoint (it gives a probe place back). Stale tickets are ignored.
    public mutating func record(_ result: Result?, for ticket: Ticket, at now: MonotonicInstant, _ settings: Settings) {
        refresh(now)
        guard ticket.generation == generation else { return }
        switch phase {
        case .closed:
            guard let result else { return }
            count(result, at: now, settings)
            if result == .failure && thresholdReached(at: now, settings) { open(at: now, settings) }
        case .halfOpen:
            guard ticket.isProbe else { return }
            switch result {
            case .success?:
                probeSuccesses += 1
                if probeSuccesses >= settings.halfOpenProbes { close() }
            case .failure?:
                open(at: now, settings)
            case nil:
                probesAdmitted = max(0, probesAdmitted - 1)
            }
        case .open:
            // Unreachable: opening changes the generation, so no ticket matches an open breaker.
            break
        }
    }

    /// Another instance opened this endpoint's breaker (`shared: true`): this one is open until
    /// `until` too, unless it already is for longer. A breaker that was not open counts it as an
    /// opening (its next reopen waits longer) and drops its window and its tickets. Returns true
    /// when the breaker was not open before.
    @discardableResult
    public mutating func openShared(until: MonotonicInstant, at now: MonotonicInstant) -> Bool {
        refresh(now)
        guard until > now else { return false }
        if case .open(let current) = phase {
            if until > current { phase = .open(until: until) }
            return false
        }
        opens += 1
        phase = .open(until: until)
        generation &+= 1
        clearWindow()
        return true
    }

    /// How long the breaker stays open when it opens for the `opens`-th time since it was closed.
    public static func openDuration(forOpening opens: Int, _ settings: Settings) -> Duration {
        let base = max(settings.openDuration.nanosecondsClamped, 0)
        let cap = max(settings.maxOpenDuration.nanosecondsClamped, base)
        var nanos = base
        var doublings = max(opens - 1, 0)
        while doublings > 0 && nanos < cap {
            nanos = nanos > cap / 2 ? cap : nanos * 2
            doublings -= 1
        }
        return .nanoseconds(min(nanos, cap))
    }

    // MARK: - Transitions

    private mutating func refresh(_ now: MonotonicInstant) {
        if case .open(let until) = phase, now >= until {
            phase = .halfOpen
            generation &+= 1
            probesAdmitted = 0
            probeSuccesses = 0
        }
    }

    private mutating func open(at now: MonotonicInstant, _ settings: Settings) {
        opens += 1
        phase = .open(until: now + Self.openDuration(forOpening: opens, settings))
        generation &+= 1
        clearWindow()
    }

    private mutating func close() {
        phase = .closed
        generation &+= 1
        opens = 0
        clearWindow()
    }

    // MARK: - The window

    private mutating func clearWindow() {
        failureTimes = []
        slices = []
    }

    private mutating func count(_ result: Result, at now: MonotonicInstant, _ settings: Settings) {
        switch settings.threshold {
        case .failures(let limit):
            guard result == .failure else { return }
            failureTimes.removeAll { now.since($0) >= settings.window }
            failureTimes.append(now)
            if failureTimes.count > limit { failureTimes.removeFirst(failureTimes.count - limit) }
        case .ratio:
            let width = max(settings.window.nanosecondsClamped / 10, 1)
            if width != sliceWidth || slices.count != 10 {
                // First use, or a reload changed the window: slices of another width mean nothing.
                sliceWidth = width
                slices = (0..<10).map { _ in Slice(index: -1) }
            }
            let index = Int64(clamping: now.nanoseconds) / width
            let slot = Int(index % 10)
            if slices[slot].index != index { slices[slot] = Slice(index: index) }
            if result == .failure { slices[slot].failures += 1 } else { slices[slot].successes += 1 }
        }
    }

    private func thresholdReached(at now: MonotonicInstant, _ settings: Settings) -> Bool {
        switch settings.threshold {
        case .failures(let limit):
            return failureTimes.filter { now.since($0) < settings.window }.count >= limit
        case .ratio(let ratio, let minimumRequests):
            guard sliceWidth > 0 else { return false }
            let current = Int64(clamping: now.nanoseconds) / sliceWidth
            var successes = 0
            var failures = 0
            for slice in slices where slice.index >= 0 && slice.index <= current && current - slice.index < 10 {
                successes += slice.successes
                failures += slice.failures
            }
            let total = successes + failures
            return total >= max(minimumRequests, 1) && Double(failures) >= ratio * Double(total)
        }
    }
}
