/// How the fake backend generates a completion when a request does not say otherwise.
///
/// One value is shared by every request a mock server answers; a request can override
/// `timeToFirstToken`, `tokensPerSecond` and `tokens` for itself with the `x-mock-ttft`,
/// `x-mock-tps` and `x-mock-tokens` headers (see `MockFaults`).
public struct MockSettings: Sendable, Equatable {
    /// Delay between the response head and the first content event. With `ttftDistribution`,
    /// that distribution's median; each request then waits a value drawn from it instead.
    public var timeToFirstToken: Duration = .milliseconds(100)
    /// Non-nil: each request's time to first token is drawn from it (see `MockTTFTDistribution`);
    /// a request's `x-mock-ttft` still wins.
    public var ttftDistribution: MockTTFTDistribution?
    /// Seeds the generator the server draws `ttftDistribution` values from.
    public var seed: UInt64 = 1
    /// Content events per second after the first one.
    public var tokensPerSecond: Double = 50
    /// How many tokens a completion has when `max_tokens` does not cut it short.
    public var tokens: Int = 30
    /// The model id listed by `GET /v1/models`, and reported when a request names no model.
    public var model: String = "sluice-mock"

    /// The defaults: 100ms to the first token, 50 tokens per second, 30 tokens, model `sluice-mock`.
    public init() {}

    /// Reads settings from a query string such as `ttft=150ms&tps=40&tokens=60&model=x`,
    /// starting from the defaults.
    ///
    /// Keys: `ttft` (a duration: `150ms`, `2s`, `1.5s`; or a distribution each request draws
    /// from: `80ms:9,1.5s:1`, `lognormal:200ms:0.8`, see `MockTTFTDistribution`), `seed` (a whole
    /// number seeding those draws), `tps` (a number above 0), `tokens` (a whole number), `model`
    /// (non-empty; percent-encoding and `+` for space are decoded).
    /// A leading `?` and empty segments are ignored; a repeated key takes its last value.
    /// Throws for an unknown key, a segment without `=`, or a bad value; the message names the key.
    public init(query: String) throws(MockSettingsError) {
        var query = Substring(query)
        if query.first == "?" { query.removeFirst() }
        for segment in query.split(separator: "&", omittingEmptySubsequences: true) {
            guard let equals = segment.firstIndex(of: "=") else {
                throw MockSettingsError("\"\(segment)\": expected key=value")
            }
            let key = segment[..<equals]
            let value = segment[segment.index(after: equals)...]
            switch key {
            case "ttft":
                if let distribution = MockTTFTDistribution.parse(value) {
                    let read = try Self.read(key, distribution)
                    ttftDistribution = read
                    timeToFirstToken = read.median
                } else {
                    timeToFirstToken = try Self.read(key, MockValueParser.duration(value))
                    ttftDistribution = nil
                }
            case "seed":
                seed = UInt64(try Self.read(key, MockValueParser.count(value)))
            case "tps":
                tokensPerSecond = try Self.read(key, MockValueParser.rate(value))
            case "tokens":
                tokens = try Self.read(key, MockValueParser.count(value))
            case "model":
                guard let decoded = PercentDecoding.decode(value), !decoded.isEmpty else {
                    throw MockSettingsError("model: expected a non-empty, correctly percent-encoded name")
                }
                model = decoded
            default:
                throw MockSettingsError("unknown setting \"\(key)\"; known settings are ttft, seed, tps, tokens and model")
            }
        }
    }

    /// The pause between two consecutive content events (`1 / tokensPerSecond`).
    public var interTokenDelay: Duration {
        .nanoseconds(Int64((1e9 / tokensPerSecond).rounded()))
    }

    private static func read<Value>(
        _ key: Substring, _ result: Result<Value, MockValueError>
    ) throws(MockSettingsError) -> Value {
        switch result {
        case .success(let value): return value
        case .failure(let error): throw MockSettingsError("\(key): \(error.message)")
        }
    }
}
