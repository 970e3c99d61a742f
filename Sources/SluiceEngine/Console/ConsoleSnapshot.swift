import SluiceConfig
import SluiceFilterAPI

/// One `/admin/events` snapshot as JSON: the process, the live streams, each route's figures and
/// series, each chain's filters with their live figures, and the reload status. Pure: built on the
/// control loop from what the engine gathered.
struct ConsoleSnapshot {
    /// The process and the chain in force.
    struct Process {
        var version: String
        var uptime: Double
        var chainVersion: Int
        var chainLoadedAt: String
        var loopLags: [Duration]
        var openConnections: Int
        var maxConnections: Int
        var activeStreams: Int
        var streamsOnPreviousChains: Int
        var draining: Bool
    }

    /// Rates and shares are taken over this many seconds back (or since the start, when younger).
    static let window = 60.0

    var process: Process
    /// `/admin/streams` rows, already JSON.
    var streams: [String]
    var streamsComplete: Bool
    var file: FilterFile
    var reading: ConsoleReading
    var history: ConsoleHistory
    /// Seconds since the engine started.
    var now: Double
    /// Figures of filters that report their own (`ReportsLiveFigures`), by chain and filter name.
    var live: [String: [String: [LiveFigure]]] = [:]
    var reloads: (succeeded: Int, failed: Int)
    var lastReload: ReloadRecord?

    var json: String {
        var out = "{\"process\":" + processJSON
        out += ",\"streams\":[" + streams.joined(separator: ",") + "],\"streams_complete\":\(streamsComplete)"
        out += ",\"routes\":[" + file.routes.map(routeJSON).joined(separator: ",") + "]"
        out += ",\"chains\":[" + file.chains.map(chainJSON).joined(separator: ",") + "]"
        out += ",\"reload\":" + reloadJSON + "}"
        return out
    }

    private var processJSON: String {
        let p = process
        let workers = p.loopLags.enumerated().map { "{\"index\":\($0.offset),\"lag_ms\":\(Self.num(Self.ms($0.element)))}" }
        return "{\"version\":\(q(p.version)),\"uptime_s\":\(Self.num(p.uptime)),\"chain_version\":\(p.chainVersion)"
            + ",\"chain_loaded_at\":\(q(p.chainLoadedAt)),\"workers\":[\(workers.joined(separator: ","))]"
            + ",\"open_connections\":\(p.openConnections),\"max_connections\":\(p.maxConnections)"
            + ",\"active_streams\":\(p.activeStreams),\"streams_on_previous_chains\":\(p.streamsOnPreviousChains),\"draining\":\(p.draining)}"
    }

    private func routeJSON(_ spec: RouteSpec) -> String {
        let current = reading.routes[spec.name] ?? ConsoleReading.Route()
        let base = history.baseline(at: now, window: Self.window)
        let then = base?.routes[spec.name] ?? ConsoleReading.Route()
        let seconds = max(now - (base?.time ?? 0), 0.001)
        let ttft = current.timeToFirstToken.since(then.timeToFirstToken)
        let outcomes = current.outcomes.keys.sorted().map { key in
            "\(q(key)):\(Self.num(max(0, current.outcomes[key]! - (then.outcomes[key] ?? 0))))"
        }
        let totals = current.outcomes.keys.sorted().map { "\(q($0)):\(Self.num(current.outcomes[$0]!))" }
        let parts = ConsoleReading.parts.map { part in
            let d = (current.parts[part.name] ?? HistogramCounts()).since(then.parts[part.name] ?? HistogramCounts())
            return "\(q(part.name)):\(Self.num(d.mean.map { $0 * 1000 }))"
        }
        let series = history.series(of: spec.name).map { p in
            "[\(Self.num(p.time - now)),\(Self.num(p.requestsPerSecond)),\(Self.num(p.ttftP95)),\(Self.num(p.tokensPerSecond))]"
        }
        var out = "{\"name\":\(q(spec.name)),\"chain\":\(q(spec.chain)),\"upstream\":\(q(spec.upstream)),\"path_prefix\":\(q(spec.pathPrefix))"
        out += ",\"window_s\":\(Self.num(seconds)),\"active\":\(Self.num(current.active)),\"requests\":\(Self.num(current.requests))"
        out += ",\"requests_per_s\":\(Self.num(max(0, current.requests - then.requests) / seconds))"
        out += ",\"outcomes\":{\(outcomes.joined(separator: ","))},\"outcome_totals\":{\(totals.joined(separator: ","))}"
        out += ",\"ttft_ms\":{\"count\":\(Self.num(ttft.count)),\"p50\":\(Self.num(ttft.quantile(0.5).map { $0 * 1000 }))"
        out += ",\"p95\":\(Self.num(ttft.quantile(0.95).map { $0 * 1000 })),\"p99\":\(Self.num(ttft.quantile(0.99).map { $0 * 1000 }))}"
        out += ",\"ttft_parts_ms\":{\(parts.joined(separator: ","))}"
        out += ",\"tokens_per_s\":\(Self.num(max(0, current.completionTokens - then.completionTokens) / seconds))"
        let perStream = current.streamTokensPerSecond.since(then.streamTokensPerSecond)
        out += ",\"stream_tokens_per_s_p50\":\(Self.num(perStream.quantile(0.5)))"
        out += ",\"series\":[\(series.joined(separator: ","))]}"
        return out
    }

    private func chainJSON(_ chain: ChainSpec) -> String {
        let routes = file.routes.filter { $0.chain == chain.name }.map { q($0.name) }
        let filters = chain.filters.map { f -> String in
            let samples = reading.filters[chain.name]?[f.name] ?? []
            let figures = samples.filter { $0.metric != "sluice_circuit_breaker_state" && $0.metric != "sluice_circuit_breaker_opened_total" }
                .map { s in
                    let labels = s.labels.keys.sorted().map { "\(q($0)):\(q(s.labels[$0]!))" }
                    return "{\"metric\":\(q(s.metric)),\"labels\":{\(labels.joined(separator: ","))},\"value\":\(Self.num(s.value))}"
                }
            let liveFigures = (live[chain.name]?[f.name] ?? []).map { "{\"name\":\(q($0.name)),\"value\":\(Self.num($0.value))}" }
            let opened = Dictionary(samples.filter { $0.metric == "sluice_circuit_breaker_opened_total" }
                .map { ($0.labels["endpoint"] ?? "", $0.value) }, uniquingKeysWith: +)
            let breakers = samples.filter { $0.metric == "sluice_circuit_breaker_state" }
                .sorted { ($0.labels["endpoint"] ?? "") < ($1.labels["endpoint"] ?? "") }
                .map { s -> String in
                    let endpoint = s.labels["endpoint"] ?? ""
                    let past = history.breakerHistory("\(chain.name)|\(f.name)|\(endpoint)").map { Self.num($0) }
                    return "{\"endpoint\":\(q(endpoint)),\"state\":\(q(Self.breakerState(s.value))),\"opened\":\(Self.num(opened[endpoint] ?? 0))"
                        + ",\"history\":[\(past.joined(separator: ","))]}"
                }
            return "{\"name\":\(q(f.name)),\"type\":\(q(f.type)),\"config\":\(ChainReport.config(f.config))"
                + ",\"live\":[\(liveFigures.joined(separator: ","))],\"figures\":[\(figures.joined(separator: ","))]"
                + ",\"breakers\":[\(breakers.joined(separator: ","))]}"
        }
        return "{\"name\":\(q(chain.name)),\"routes\":[\(routes.joined(separator: ","))],\"filters\":[\(filters.joined(separator: ","))]}"
    }

    private var reloadJSON: String {
        var out = "{\"path\":\(q(file.path)),\"succeeded\":\(reloads.succeeded),\"failed\":\(reloads.failed),\"last\":"
        if let r = lastReload {
            out += "{\"at\":\(q(r.at)),\"ok\":\(r.version != nil),\"version\":\(r.version.map(String.init) ?? "null")"
            out += ",\"errors\":[\(r.errors.map(q).joined(separator: ","))]}"
        } else {
            out += "null"
        }
        return out + "}"
    }

    static func breakerState(_ value: Double) -> String {
        switch value {
        case 2: return "open"
        case 1: return "half_open"
        default: return "closed"
        }
    }

    private func q(_ s: String) -> String { JSONText.quoted(s) }

    private static func ms(_ d: Duration) -> Double { Double(d.nanosecondsClamped) / 1e6 }

    /// A JSON number rounded to a thousandth, or null for nil and what JSON cannot hold.
    static func num(_ x: Double?) -> String {
        guard let x, x.isFinite else { return "null" }
        let rounded = (x * 1000).rounded() / 1000
        return rounded == rounded.rounded() && abs(rounded) < 1e15 ? String(Int64(rounded)) : String(rounded)
    }
}
