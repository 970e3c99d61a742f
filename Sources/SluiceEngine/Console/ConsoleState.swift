import SluiceFilterAPI
import SluiceIO

/// The live console on the admin listener: the page (`GET /`), the feed of snapshots
/// (`/admin/events`) and the history they draw on. Made in `Engine.start()`; control loop only after.
final class ConsoleState {
    private unowned let engine: Engine
    /// Echoed by the page in `x-sluice-csrf` on its POSTs (see `BrowserRequestGuard`). Random per process.
    let csrfToken: String
    private let startedAt: MonotonicInstant
    private var history: ConsoleHistory
    private var historyTimer: SluiceIO.Timer?
    /// Set once in `init`; its stats may be read from any thread.
    private(set) var feed: ConsoleFeed!

    init(engine: Engine) {
        self.engine = engine
        csrfToken = Self.randomHex(bytes: 16)
        startedAt = engine.options.clock.now()
        let seconds = Double(engine.options.consoleHistoryInterval.nanosecondsClamped) / 1e9
        history = ConsoleHistory(interval: max(seconds, 0.001))
        feed = ConsoleFeed(loop: engine.control, interval: engine.options.consoleInterval) { [unowned self] done in
            self.snapshot(done)
        }
    }

    /// The page, with this process's CSRF token and a fresh nonce for its inline script and style.
    func page() -> AdminResponse {
        let nonce = Self.randomHex(bytes: 16)
        var response = AdminResponse(200, "text/html; charset=utf-8", Array(ConsolePage.html(csrfToken: csrfToken, nonce: nonce).utf8))
        response.headers = [
            ("content-security-policy", "default-src 'none'; script-src 'nonce-\(nonce)'; style-src 'nonce-\(nonce)'; "
                + "connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"),
            ("x-frame-options", "DENY"),
            ("x-content-type-options", "nosniff"),
            ("referrer-policy", "no-referrer"),
            ("cache-control", "no-store"),
        ]
        return response
    }

    /// Takes a reading now and then every `consoleHistoryInterval`, for the 15-minute history.
    func startHistory() {
        let timer = SluiceIO.Timer(loop: engine.control) { [weak self] timer in
            guard let self else { return }
            record()
            timer.arm(after: engine.options.consoleHistoryInterval)
        }
        historyTimer = timer
        record()
        timer.arm(after: engine.options.consoleHistoryInterval)
    }

    func stop() {
        historyTimer?.cancel()
        historyTimer = nil
        feed.stop()
    }

    private var uptime: Double { Double(engine.options.clock.now().since(startedAt).nanosecondsClamped) / 1e9 }

    /// Keeps a reading unless a snapshot kept one less than an interval ago (readings stay about an
    /// interval apart, so each step of the series covers about as long).
    private func record() {
        let now = uptime
        if history.isDue(at: now) { history.record(reading(), at: now) }
    }

    private func reading() -> ConsoleReading {
        ConsoleReading(MetricsScrape(text: String(decoding: engine.renderMetrics(), as: UTF8.self)))
    }

    /// Gathers the streams from every worker, then builds one snapshot. Control loop.
    func snapshot(_ done: @escaping (String) -> Void) {
        engine.gatherStreams { [weak self] rows, complete in
            guard let self else { return }
            let state = engine.engineState()
            let version = engine.currentVersion
            let now = uptime
            let reading = reading()
            if history.isDue(at: now) { history.record(reading, at: now) }
            let snapshot = ConsoleSnapshot(
                process: .init(version: SluiceVersion.text, uptime: now, chainVersion: version.number, chainLoadedAt: version.builtAt,
                               loopLags: state.loopLags, openConnections: state.openConnections, maxConnections: state.maxConnections,
                               activeStreams: state.activeStreams, streamsOnPreviousChains: state.streamsOnPreviousChains,
                               draining: state.draining),
                streams: rows, streamsComplete: complete, file: version.file, reading: reading, history: history, now: now,
                live: Self.liveFigures(of: version), reloads: engine.reloadCounts.withLock { $0 },
                lastReload: engine.lastReload.withLock { $0 })
            done(snapshot.json)
        }
    }

    /// What the filters of `version` that report their own figures say now, by chain and filter name.
    private static func liveFigures(of version: ChainVersion) -> [String: [String: [LiveFigure]]] {
        var figures: [String: [String: [LiveFigure]]] = [:]
        for (name, chain) in version.chains {
            for (filter, filterName) in zip(chain.filters, chain.filterNames) {
                if let reporter = filter as? any ReportsLiveFigures { figures[name, default: [:]][filterName] = reporter.liveFigures() }
            }
        }
        return figures
    }

    private static func randomHex(bytes: Int) -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<bytes).map { _ in
            let b = UInt8.random(in: 0...255, using: &generator)
            return String(b >> 4, radix: 16) + String(b & 0xF, radix: 16)
        }.joined()
    }
}
