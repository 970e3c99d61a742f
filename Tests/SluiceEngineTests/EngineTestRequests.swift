import SluiceConfig
import SluiceHTTP
import SluiceTesting

/// A `POST /v1/chat/completions` head for a proxy on `port`, JSON, with `extra` headers after those.
func chatCompletionsHead(_ port: Int, extra: [(String, String)] = []) -> HTTPRequestHead {
    var headers = HTTPHeaders([("host", "127.0.0.1:\(port)"), ("content-type", "application/json")])
    for (n, v) in extra { headers.add(n, v) }
    return HTTPRequestHead(method: "POST", target: "/v1/chat/completions", headers: headers)
}

/// A proxy in front of the harness's fake upstream with an empty chain and `limits` (YAML lines
/// of the `limits:` section, indented by two spaces); `admin` adds an admin listener on port 0.
func proxyWithLimits(_ limits: String, admin: Bool = false, workers: Int = 1,
                     clock: any SluiceClock = SystemClock()) throws -> ProxyHarness {
    try ProxyHarness(filterFile: """
    listeners: [{ address: 127.0.0.1:0 }]
    \(admin ? "admin: { address: 127.0.0.1:0 }" : "")
    limits:
    \(limits)
    upstreams:
      fake: { endpoints: ["{{upstream}}"] }
    routes: [{ path_prefix: /, chain: main, upstream: fake }]
    chains: { main: [] }
    """, workers: workers, clock: clock)
}
