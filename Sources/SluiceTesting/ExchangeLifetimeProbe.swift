import Foundation
import SluiceFilterAPI
import Synchronization

/// A filter for tests that proves exchanges are freed once they end: it holds every exchange it
/// sees weakly, so `alive` counts those something still keeps. Put it last in the chain, so every
/// other filter has made its state (and its timers) for the exchange before it looks.
///
/// ```swift
/// let probe = ExchangeLifetimeProbe()
/// registry.register("lifetime_probe") { _ in probe }
/// // … a chain ending in `- filter: lifetime_probe`, some exchanges through it …
/// #expect(probe.waitUntilAllFreed(within: .seconds(5)))
/// ```
///
/// A request that carries `x-test-reject` is refused by the probe (429), for a rejected ending.
/// Hooks run on the exchanges' loop threads; the other members may be read from any thread.
public final class ExchangeLifetimeProbe: Filter {
    private struct Seen {
        var exchanges: [WeakExchange] = []
        var lastAttempts: [Int] = []
    }

    private let seen = Mutex(Seen())

    public init() {}

    public func onRequest(_ exchange: Exchange) -> Decision {
        let weak = WeakExchange(exchange)
        seen.withLock { $0.exchanges.append(weak) }
        if exchange.request.headers["x-test-reject"] != nil {
            return .reject(ProxyError(.rateLimited, "refused by the test"))
        }
        return .next
    }

    public func onComplete(_ exchange: Exchange, _ outcome: Outcome) {
        seen.withLock { $0.lastAttempts.append(exchange.attempt) }
    }

    /// Exchanges the probe saw.
    public var count: Int { seen.withLock { $0.exchanges.count } }
    /// Exchanges the probe saw that are not freed yet.
    public var alive: Int { seen.withLock { $0.exchanges.filter { !$0.isFreed }.count } }
    /// Each ended exchange's last attempt number (0: none started), in the order they ended.
    public var lastAttempts: [Int] { seen.withLock { $0.lastAttempts } }

    /// Waits until every exchange seen is freed, up to `timeout` (an exchange is freed on its
    /// loop thread shortly after it ends). True when none is left.
    public func waitUntilAllFreed(within timeout: Duration) -> Bool {
        let deadline = ContinuousClock.now + timeout
        while alive > 0, ContinuousClock.now < deadline {
            Thread.sleep(forTimeInterval: 0.01)
        }
        return alive == 0
    }
}

/// A weak reference to an exchange, readable from any thread: nil once the exchange was freed.
public final class WeakExchange: Sendable {
    private let reference: Mutex<WeakBox>

    private struct WeakBox: @unchecked Sendable {
        weak var exchange: Exchange?
    }

    /// Holds nothing yet (`set` it later); counts as freed until then.
    public init() { reference = Mutex(WeakBox()) }

    /// Holds `exchange` weakly.
    public init(_ exchange: Exchange) { reference = Mutex(WeakBox(exchange: exchange)) }

    /// Holds `exchange` weakly, in place of what it held.
    public func set(_ exchange: Exchange) { reference.withLock { $0.exchange = exchange } }

    /// True once the exchange is gone (or none was set).
    public var isFreed: Bool { reference.withLock { $0.exchange == nil } }
}
