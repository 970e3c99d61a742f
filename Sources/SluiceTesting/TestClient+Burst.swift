import Foundation
import Synchronization

extension TestClient {
    /// Sends `count` POSTs of `json` to `/v1/chat/completions` at once, spread over `ports` in turn,
    /// each on its own thread and connection, all released by one start signal; returns their
    /// statuses (-1 for a request that failed without one). Waits up to `timeout` for all of them.
    /// For tests of limits under concurrent arrivals.
    public static func statusesAtOnce(_ count: Int, ports: [Int], json: String = TestClient.chatRequest(),
                                      headers: [(String, String)] = [], timeout: Duration = .seconds(30)) -> [Int] {
        let statuses = Mutex<[Int]>([])
        let group = DispatchGroup()
        let start = DispatchSemaphore(value: 0)
        for i in 0..<count {
            group.enter()
            let port = ports[i % ports.count]
            let headers = UncheckedHeaders(list: headers)
            Thread {
                start.wait()
                let status = (try? TestClient.post(port: port, path: "/v1/chat/completions", json: json,
                                                   headers: headers.list))?.head.status ?? -1
                statuses.withLock { $0.append(status) }
                group.leave()
            }.start()
        }
        for _ in 0..<count { start.signal() }
        let (seconds, attoseconds) = timeout.components
        _ = group.wait(timeout: .now() + .milliseconds(Int(seconds) * 1000 + Int(attoseconds / 1_000_000_000_000_000)))
        return statuses.withLock { $0 }
    }

    /// Starts a streamed chat request on `port` that the fake upstream makes last about 100 s
    /// (1,000 tokens at 10 per second), and returns its client without reading anything: read the
    /// head to see whether it was admitted, and close the client to end the stream.
    public static func startLongStream(port: Int, headers: [(String, String)] = []) throws -> TestClient {
        let client = try TestClient(port: port)
        var fields = HTTPHeaders([("host", "127.0.0.1:\(port)"), ("content-type", "application/json"),
                                  ("x-mock-tokens", "1000"), ("x-mock-tps", "10")])
        for (name, value) in headers { fields.add(name, value) }
        try client.send(HTTPRequestHead(method: "POST", target: "/v1/chat/completions", headers: fields),
                        body: Array(TestClient.chatRequest().utf8))
        return client
    }
}

/// Header pairs handed to a request thread (tuples are not `Sendable`).
private struct UncheckedHeaders: @unchecked Sendable {
    let list: [(String, String)]
}
