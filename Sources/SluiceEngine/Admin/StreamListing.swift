import SluiceFilterAPI

/// `/admin/streams`: one exchange in flight as a JSON object. Loop thread of the exchange's worker.
enum StreamListing {
    static func json(of proxy: ProxyExchange, now: MonotonicInstant) -> String {
        let x = proxy.exchange
        func q(_ s: String) -> String { JSONText.quoted(s) }
        func ms(_ d: Duration) -> String { String(Double(d.nanosecondsClamped / 1000) / 1000) }
        var out = "{\"id\":\(q(x.id)),\"route\":\(q(x.route.name)),\"chain_version\":\(proxy.version.number),\"worker\":\(x.worker)"
        out += ",\"client\":\(q(x.client.address)),\"method\":\(q(x.request.method)),\"path\":\(q(String(x.request.path.prefix { $0 != "?" })))"
        out += ",\"endpoint\":\(x.endpoint.map { q($0.id) } ?? "null"),\"attempt\":\(x.attempt),\"state\":\(q(proxy.stateName))"
        out += ",\"age_ms\":\(ms(now.since(x.timings.start)))"
        out += ",\"ttft_ms\":\(x.timings.firstToken.map { ms($0.since(x.timings.start)) } ?? "null")"
        out += ",\"tokens\":\(x.tokens.completionTokens),\"events\":\(x.counters.events),\"bytes_out\":\(x.counters.bytesToClient)"
        out += ",\"client_backlog\":\(proxy.clientBacklog)}"
        return out
    }
}
