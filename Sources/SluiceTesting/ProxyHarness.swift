import Foundation
import SluiceConfig
import SluiceEngine
import SluiceFilterAPI
import SluiceFilters
import SluiceMock

/// Starts Sluice in the test process on port 0, in front of a fake LLM upstream that records what it
/// saw. Write the filter file as text; `{{upstream}}` stands for the fake upstream's `http://` URL.
///
/// ```swift
/// let proxy = try ProxyHarness(chain: "- filter: my_filter")
/// defer { proxy.stop() }
/// let response = try TestClient.post(port: proxy.port, path: "/v1/chat/completions", json: TestClient.chatRequest())
/// ```
public final class ProxyHarness {
    /// The running proxy: `reload()`, `listenerPorts`, `stop()`. Started by `init`; `stop()` stops it.
    public let engine: Engine
    /// The fake upstream the default file routes to.
    public let upstream: MockServer
    /// Where the filter file is; an absolute path means it was written to disk and can be reloaded.
    public let path: String
    /// The port of the first listener.
    public var port: Int { engine.listenerPorts[0] }
    /// The port of the admin listener (`/healthz`, `/admin/chain`), when the file declares one.
    public var adminPort: Int? { engine.adminPort }

    /// Starts a proxy from a whole filter file.
    public init(filterFile text: String, path: String = "test.yaml", registry: FilterRegistry = BuiltinFilters.registry(),
                upstreamSettings: MockSettings = ProxyHarness.fastMock, workers: Int = 2, clock: any SluiceClock = SystemClock(),
                drainTimeout: Duration = .seconds(5), accessLog: AccessLogSpec = AccessLogSpec(output: .off),
                options configure: (inout EngineOptions) -> Void = { _ in }) throws {
        upstream = MockServer(settings: upstreamSettings)
        try upstream.start()
        let resolved = text.replacingOccurrences(of: "{{upstream}}", with: "http://127.0.0.1:\(upstream.port)")
        self.path = path
        if path.hasPrefix("/") {
            // A file on disk, so that reloads can read it again.
            try resolved.write(toFile: path, atomically: true, encoding: .utf8)
        }
        let file: FilterFile
        switch FilterFileLoading.parse(text: resolved, path: path, registry: registry) {
        case .success(let f): file = f
        case .failure(let errors):
            upstream.stop()
            throw errors
        }
        var options = EngineOptions()
        options.workers = workers
        options.clock = clock
        options.drainTimeout = drainTimeout
        // Quiet unless the filter file asks for an access log: tests read the file they name.
        options.accessLog = accessLog
        configure(&options)
        engine = Engine(file: file, registry: registry, options: options)
        do {
            try engine.start()
        } catch {
            upstream.stop()
            throw error
        }
    }

    /// Starts a proxy with one listener on 127.0.0.1:0, an admin listener, one route `/` and the
    /// given chain (YAML list items, e.g. `- filter: timeouts`), in front of the fake upstream.
    public convenience init(chain: String = "", registry: FilterRegistry = BuiltinFilters.registry(),
                            upstreamSettings: MockSettings = ProxyHarness.fastMock, workers: Int = 2,
                            clock: any SluiceClock = SystemClock()) throws {
        try self.init(filterFile: Self.filterFile(chain: chain), registry: registry, upstreamSettings: upstreamSettings,
                      workers: workers, clock: clock)
    }

    /// The filter file `init(chain:)` starts: one listener on 127.0.0.1:0, an admin listener, the
    /// fake upstream as group `fake`, and route `all` (`/`) through chain `main` made of `chain`
    /// (YAML list items, e.g. `- filter: timeouts`; empty for no filters). For tests that need the
    /// text itself, to reload it or to change one line.
    public static func filterFile(chain: String = "") -> String {
        let chainText = chain.isEmpty ? "  main: []" : "  main:\n" + chain.split(separator: "\n", omittingEmptySubsequences: false)
            .map { "    " + $0 }.joined(separator: "\n")
        return """
        listeners:
          - name: test
            address: 127.0.0.1:0
        admin:
          address: 127.0.0.1:0
        upstreams:
          fake:
            endpoints: ["{{upstream}}"]
        routes:
          - name: all
            path_prefix: /
            chain: main
            upstream: fake
        chains:
        \(chainText)

        """
    }

    /// A mock that answers quickly, so tests spend little time waiting: 20 ms to the first token,
    /// 200 tokens per second, 10 tokens.
    public static var fastMock: MockSettings {
        var s = MockSettings()
        s.timeToFirstToken = .milliseconds(20)
        s.tokensPerSecond = 200
        s.tokens = 10
        return s
    }

    /// Writes a new filter file (with `{{upstream}}` resolved) over the old one and reloads it.
    /// Requires the harness to have been made with an absolute `path`.
    @discardableResult
    public func reload(filterFile text: String) throws -> Result<Int, FilterFileErrors> {
        let resolved = text.replacingOccurrences(of: "{{upstream}}", with: "http://127.0.0.1:\(upstream.port)")
        try resolved.write(toFile: path, atomically: true, encoding: .utf8)
        return engine.reload()
    }

    /// Sends one request to the admin listener (`GET /metrics`, `POST /admin/reload`, ...) and
    /// returns the whole answer. `authorization` is sent as the Authorization field when given.
    public func admin(_ method: String = "GET", _ path: String, authorization: String? = nil) throws -> TestResponse {
        guard let adminPort else { throw TestClientError.connectFailed("the filter file has no admin listener") }
        let client = try TestClient(port: adminPort)
        defer { client.close() }
        let credentials = authorization.map { "Authorization: \($0)\r\n" } ?? ""
        try client.sendRaw(Array("\(method) \(path) HTTP/1.1\r\nHost: admin\r\n\(credentials)Content-Length: 0\r\n\r\n".utf8))
        return try client.readResponse()
    }

    /// A scrape of `/metrics`, parsed.
    public func metrics() throws -> MetricsScrape {
        MetricsScrape(text: try admin("GET", "/metrics").bodyText)
    }

    /// Scrapes `/metrics` until `condition` holds or `timeout` passes, and returns the last scrape.
    /// The proxy counts an exchange right after its last byte went out, so a client that just read
    /// a response may scrape a moment before the count moves.
    public func metrics(within timeout: Duration, until condition: (MetricsScrape) -> Bool) throws -> MetricsScrape {
        let deadline = ContinuousClock.now + timeout
        var scrape = try metrics()
        while !condition(scrape), ContinuousClock.now < deadline {
            Thread.sleep(forTimeInterval: 0.02)
            scrape = try metrics()
        }
        return scrape
    }

    /// A fresh path for a filter file in the temporary directory.
    public static func temporaryFilterFilePath() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("sluice-\(UUID().uuidString).yaml").path
    }

    /// Stops the proxy and the fake upstream.
    public func stop() {
        engine.stop()
        upstream.stop()
    }
}

