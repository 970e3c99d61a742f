import SluiceConfig
import SluiceFilterAPI
#if canImport(Glibc)
import Glibc
#endif

/// One access log line: what happened to one exchange. Built on the exchange's loop thread when it
/// ends. Holds no header values and no query string, so an API key or an Authorization value can
/// never reach the log.
struct AccessLogEntry {
    var time: String
    var requestID: String
    var client: String
    var method: String
    /// The path without its query string (queries sometimes carry keys).
    var path: String
    var route: String
    var chainVersion: Int
    var endpoint: String?
    var status: Int?
    var outcome: String
    var errorKind: String?
    var errorMessage: String?
    /// What the client was not told: an upstream's address, a system error (`ProxyError.logDetail`).
    var errorDetail: String?
    /// For outcome `upstream_error`: the type the upstream named in its error event.
    var upstreamErrorType: String?
    var decidedBy: String?
    var stream: Bool
    var ttftMilliseconds: Double?
    var durationMilliseconds: Double
    var tokensIn: Int?
    var tokensOut: Int
    /// `usage` when the upstream reported the counts, `counted` when they are content events counted.
    var tokensSource: String
    var retries: Int
    /// Hedges started (`Exchange.startHedge`); the hedge fields are written only when some were.
    var hedges: Int
    /// A hedge took the exchange over.
    var hedgeWon: Bool
    var hedgesLost: Int
    var hedgesFailed: Int
    /// The first-token time the hedges saved, as the hedge filter estimated it.
    var hedgeSavedMilliseconds: Double?
    var bytesIn: Int
    var bytesOut: Int
    var worker: Int
    /// False for every outcome but `completed`: the line is written at `warning` level.
    var completed: Bool

    init(exchange x: Exchange, outcome: Outcome, chainVersion: Int) {
        time = Self.now()
        requestID = x.id
        client = x.client.address
        method = x.request.method
        path = String(x.request.path.prefix { $0 != "?" })
        route = x.route.name
        self.chainVersion = chainVersion
        endpoint = x.endpoint?.id
        status = outcome.status
        self.outcome = ProxyMetrics.outcomeLabel(outcome)
        if outcome.kind != .completed, let error = outcome.error {
            errorKind = error.kind.rawValue
            errorMessage = error.message
            errorDetail = error.logDetail
        }
        if outcome.kind == .upstreamError { upstreamErrorType = x.tokens.errorType }
        decidedBy = outcome.decidedBy
        stream = x.isEventStream
        if let first = x.timings.firstToken { ttftMilliseconds = Self.milliseconds(first.since(x.timings.start)) }
        durationMilliseconds = Self.milliseconds((x.timings.end ?? x.clock.now()).since(x.timings.start))
        tokensIn = x.tokens.usage?.promptTokens
        tokensOut = x.tokens.completionTokens
        tokensSource = x.tokens.usage?.completionTokens != nil ? "usage" : "counted"
        retries = max(0, x.attempt - 1)
        hedges = x.hedges.started
        hedgeWon = x.hedges.won > 0
        hedgesLost = x.hedges.lost
        hedgesFailed = x.hedges.failed
        hedgeSavedMilliseconds = x.hedges.firstTokenSaved.map(Self.milliseconds)
        bytesIn = x.counters.requestBytes
        bytesOut = x.counters.bytesToClient
        worker = x.worker
        completed = outcome.kind == .completed
    }

    /// The fields in output order; nil values are written as JSON null, or left out of text lines.
    private var fields: [(String, Value)] {
        var all: [(String, Value)] = [
            ("time", .text(time)), ("level", .text(completed ? "info" : "warning")), ("request_id", .text(requestID)),
            ("client", .text(client)), ("method", .text(method)), ("path", .text(path)), ("route", .text(route)),
            ("chain_version", .int(chainVersion)), ("endpoint", endpoint.map(Value.text) ?? .null),
            ("status", status.map(Value.int) ?? .null), ("outcome", .text(outcome)),
            ("error", errorKind.map(Value.text) ?? .null), ("error_message", errorMessage.map(Value.text) ?? .null),
            ("error_detail", errorDetail.map(Value.text) ?? .null),
            ("upstream_error_type", upstreamErrorType.map(Value.text) ?? .null),
            ("decided_by", decidedBy.map(Value.text) ?? .null), ("stream", .bool(stream)),
            ("ttft_ms", ttftMilliseconds.map(Value.number) ?? .null), ("duration_ms", .number(durationMilliseconds)),
            ("tokens_in", tokensIn.map(Value.int) ?? .null), ("tokens_out", .int(tokensOut)), ("tokens_source", .text(tokensSource)),
            ("retries", .int(retries)), ("bytes_in", .int(bytesIn)), ("bytes_out", .int(bytesOut)), ("worker", .int(worker)),
        ]
        if hedges > 0 {
            all += [("hedges", .int(hedges)), ("hedge_won", .bool(hedgeWon)), ("hedges_lost", .int(hedgesLost)),
                    ("hedges_failed", .int(hedgesFailed)), ("hedge_saved_ms", hedgeSavedMilliseconds.map(Value.number) ?? .null)]
        }
        return all
    }

    private enum Value {
        case text(String), int(Int), number(Double), bool(Bool), null
    }

    /// The line, newline included. Written straight into bytes: it runs once per exchange on the
    /// worker thread.
    func line(_ format: AccessLogSpec.Format) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(480)
        var first = true
        for (key, value) in fields {
            switch format {
            case .json:
                out.append(first ? UInt8(ascii: "{") : UInt8(ascii: ","))
                out.append(UInt8(ascii: "\""))
                out.append(contentsOf: key.utf8)
                out.append(contentsOf: "\":".utf8)
                switch value {
                case .text(let s): JSONText.appendQuoted(s, to: &out)
                case .int(let n): out.append(contentsOf: String(n).utf8)
                case .number(let d): out.append(contentsOf: Self.decimal(d).utf8)
                case .bool(let b): out.append(contentsOf: (b ? "true" : "false").utf8)
                case .null: out.append(contentsOf: "null".utf8)
                }
            case .text:
                let rendered: String
                switch value {
                case .text(let s): rendered = Self.textValue(s)
                case .int(let n): rendered = String(n)
                case .number(let d): rendered = Self.decimal(d)
                case .bool(let b): rendered = b ? "true" : "false"
                case .null: continue
                }
                if !first { out.append(UInt8(ascii: " ")) }
                out.append(contentsOf: key.utf8)
                out.append(UInt8(ascii: "="))
                out.append(contentsOf: rendered.utf8)
            }
            first = false
        }
        if format == .json { out.append(UInt8(ascii: "}")) }
        out.append(UInt8(ascii: "\n"))
        return out
    }

    /// A bare word when it has no space, quote, `=` or control character; else a JSON string.
    private static func textValue(_ s: String) -> String {
        let plain = !s.isEmpty && s.utf8.allSatisfy { $0 > 0x20 && $0 != 0x22 && $0 != 0x3D && $0 != 0x7F }
        return plain ? s : JSONText.quoted(s)
    }

    /// Three decimals at most, no exponent.
    private static func decimal(_ d: Double) -> String {
        let thousandths = Int64((d * 1000).rounded())
        let whole = thousandths / 1000
        let fraction = abs(thousandths % 1000)
        if fraction == 0 { return String(whole) }
        var digits = String(fraction)
        while digits.count < 3 { digits = "0" + digits }
        while digits.hasSuffix("0") { digits.removeLast() }
        return (thousandths < 0 && whole == 0 ? "-" : "") + "\(whole).\(digits)"
    }

    private static func milliseconds(_ d: Duration) -> Double {
        Double(d.nanosecondsClamped) / 1e6
    }

    /// UTC wall-clock time as RFC 3339 with milliseconds.
    static func now() -> String {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        var seconds = spec.tv_sec
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func two(_ n: Int32) -> String { n < 10 ? "0\(n)" : "\(n)" }
        let ms = Int(spec.tv_nsec / 1_000_000)
        let millis = ms < 10 ? "00\(ms)" : ms < 100 ? "0\(ms)" : "\(ms)"
        return "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))T\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)).\(millis)Z"
    }
}
