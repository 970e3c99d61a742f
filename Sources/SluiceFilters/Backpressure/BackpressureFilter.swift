import SluiceFilterAPI
import Synchronization

/// `backpressure`: bounds what a slow client costs.
///
/// The engine stops reading from the upstream while more than `high_watermark` bytes wait to be
/// written to the client, and resumes below `low_watermark`. So a client that never reads costs at
/// most the high watermark plus one read from the upstream, whatever the stream's length. This filter
/// sets those watermarks per exchange, and ends streams whose client stays blocked too long: the
/// client gets an SSE error event (`slow_client`) if the connection can still take one, and the
/// upstream is cancelled.
///
/// | key | meaning |
/// |---|---|
/// | `high_watermark` | pause upstream reads above this many unsent bytes (default 256KiB) |
/// | `low_watermark` | resume below this many (default a quarter of the high watermark; must be lower) |
/// | `slow_client_timeout` | end a stream whose client stays blocked this long (default: never) |
///
/// Shared counters (`statistics`) count pauses, time spent paused, and streams cut; the instance
/// that replaces this one on a reload carries them on.
public final class BackpressureFilter: StatefulFilter {
    /// The hooks below that do something; the engine skips the rest.
    public var hooks: FilterHooks { [.onRequest, .onClientBlocked, .onClientDrained, .onComplete] }

    public let highWatermark: Int
    public let lowWatermark: Int
    public let slowClientTimeout: Duration?
    private let counters: Counters

    /// Totals across every exchange this filter saw.
    public struct Statistics: Sendable, Equatable {
        public var pauses = 0
        public var pausedTime: Duration = .zero
        public var slowClientsCut = 0
    }

    final class Counters: Sendable {
        let state = Mutex(Statistics())
    }

    /// Per-exchange state: the slow-client timer, armed while the client is blocked.
    public final class Blocked {
        var timer: ExchangeTimer?
    }

    public typealias ExchangeState = Blocked
    public let stateSlot = ExchangeStateSlot()
    public func makeState(for exchange: Exchange) -> Blocked { Blocked() }

    public var statistics: Statistics { counters.state.withLock { $0 } }

    public init(_ setup: FilterSetup) {
        let config = setup.config
        let high = config.size("high_watermark", default: 256 * 1024, in: 1024...(1 << 30))
        let low = config.size("low_watermark", default: high / 4, in: 0...(1 << 30))
        if low >= high, let node = config.node("low_watermark") {
            config.diagnostics.error("'low_watermark' must be lower than 'high_watermark' (\(high) bytes)", at: node.mark)
        }
        highWatermark = high
        lowWatermark = min(low, high - 1)
        slowClientTimeout = config.duration("slow_client_timeout", in: .milliseconds(10)...(.seconds(3600)))
        counters = (setup.previous as? BackpressureFilter)?.counters ?? Counters()
        slowClientsCut = Counter(label: "sluice_slow_clients_cut_total", dimensions: setup.metricDimensions, factory: setup.metrics)
    }

    /// `sluice_slow_clients_cut_total` for this instance. (Pauses are counted by the engine for
    /// every exchange, in `sluice_backpressure_pauses_total`.)
    private let slowClientsCut: Counter

    public func onRequest(_ exchange: Exchange) -> Decision {
        exchange.clientHighWatermark = highWatermark
        exchange.clientLowWatermark = lowWatermark
        return .next
    }

    public func onClientBlocked(_ exchange: Exchange) {
        counters.state.withLock { $0.pauses += 1 }
        guard let slowClientTimeout else { return }
        let blocked = exchange.state(for: self)
        if let timer = blocked.timer {
            timer.reschedule(after: slowClientTimeout)
        } else {
            blocked.timer = exchange.schedule(after: slowClientTimeout) { [counters, slowClientsCut] in
                counters.state.withLock { $0.slowClientsCut += 1 }
                slowClientsCut.increment()
                exchange.fail(ProxyError(.slowClient, "the client read nothing for \(slowClientTimeout); the stream was ended",
                                         source: .client))
            }
        }
    }

    public func onClientDrained(_ exchange: Exchange) {
        exchange.existingState(for: self)?.timer?.cancel()
    }

    public func onComplete(_ exchange: Exchange, _ outcome: Outcome) {
        let paused = exchange.counters.clientPausedTime
        if paused > .zero { counters.state.withLock { $0.pausedTime += paused } }
    }
}
