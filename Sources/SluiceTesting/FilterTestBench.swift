import SluiceConfig
import SluiceFilterAPI
import SluiceHTTP

/// Calls one filter's hooks directly, without a proxy, sockets or threads: for unit tests of a
/// filter's decisions, the way the engine would call them.
///
/// ```swift
/// let filter = try FilterTestBench.makeFilter("prompt_tokens_header", config: "{ header: x-tokens }", registry: registry)
/// let exchange = FilterTestBench.makeExchange(body: Array(TestClient.chatRequest().utf8))
/// guard case .next = filter.onRequestBody(exchange) else { Issue.record("expected .next"); return }
/// #expect(exchange.responseHeaders.contains { $0 == ("x-tokens", "9") })
/// ```
///
/// An exchange made by `makeExchange` belongs to no engine: `resume`, `resumeFromAnyThread`, `fail`
/// and `sendComment` do nothing, and `schedule` answers a timer that never fires. For a filter whose
/// behaviour depends on those (it suspends, fails, comments, or keeps time with timers), drive an
/// `EmbeddedExchange` instead: it records what the filter asks for and fires its timers on a
/// `ManualClock` as the test advances it. `ProxyHarness` is for what only sockets show. Hooks
/// called here run on the test's thread; call them from one thread at a time per exchange, as the
/// engine does.
public enum FilterTestBench {
    /// Builds a filter as the engine does from a filter file: `config` is the YAML of the filter's
    /// `config:` value (a flow mapping such as `{ capacity: 10 }`, or a block mapping), read with
    /// positions in a file named `path`; then unknown keys are checked (`ConfigMap.finish()`).
    /// Throws `FilterFileErrors` (`path:line:col: message` lines) when the config has problems, and
    /// what the factory throws.
    public static func makeFilter(
        _ type: String, config: String = "", registry: FilterRegistry, name: String? = nil, chain: String = "main",
        previous: (any Filter)? = nil, clock: any SluiceClock = ManualClock(), workers: Int = 1, path: String = "config.yaml"
    ) throws -> any Filter {
        guard let factory = registry.factory(for: type) else {
            throw FilterFileErrors(errors: [ConfigError("unknown filter type '\(type)'", at: SourceMark(path: path, line: 1, column: 1))])
        }
        let node: ConfigNode
        do {
            node = try YAMLLoader.load(text: config, path: path)
        } catch {
            throw FilterFileErrors(errors: [error])
        }
        let diagnostics = ConfigDiagnostics()
        let map = ConfigMap(node, diagnostics: diagnostics, context: "config of filter '\(name ?? type)'")
        let filter = try factory(FilterSetup(type: type, name: name ?? type, chain: chain, config: map,
                                             previous: previous, clock: clock, workers: workers))
        map.finish()
        if !diagnostics.isEmpty { throw FilterFileErrors(errors: diagnostics.sortedErrors) }
        return filter
    }

    /// An exchange as the engine makes one when a request head arrives: the request as given
    /// (with `host` added when absent), `requestBody` set to `body`, a route `all` on chain `main`
    /// to group `fake`, the dialect guessed from the path, worker 0.
    public static func makeExchange(
        method: String = "POST", path: String = "/v1/chat/completions", headers: [(String, String)] = [],
        body: [UInt8]? = nil, clientAddress: String = "127.0.0.1", clock: any SluiceClock = ManualClock(),
        id: String = "test-exchange"
    ) -> Exchange {
        var fields = HTTPHeaders(headers)
        if !fields.contains("host") { fields.add("host", "127.0.0.1") }
        let exchange = Exchange(
            id: id, request: HTTPRequestHead(method: method, target: path, headers: fields),
            client: ClientInfo(address: clientAddress, port: 40000, secure: false, listener: "test"),
            route: RouteInfo(name: "all", chain: "main", upstreamGroup: "fake"),
            dialect: StreamDialect.forPath(path), clock: clock, worker: 0)
        exchange.requestBody = body
        return exchange
    }
}
