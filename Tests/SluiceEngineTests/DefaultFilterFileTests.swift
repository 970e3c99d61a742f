import Foundation
import SluiceEngine
import SluiceTesting
import Testing

/// `filters/default.yaml` runs eight of the built-in filters with limits a person trying Sluice by hand
/// does not meet, and that the README's short curl loop does: a rate limit, a breaker, a first-token
/// timeout. The same steps here, against the file as shipped (only its ports and its access log changed).
@Suite(.serialized)
struct DefaultFilterFileTests {
    static let text: String = {
        let path = CommandLineTests.root.appendingPathComponent("filters/default.yaml").path
        let shipped = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
        return shipped.replacingOccurrences(of: "  output: stdout", with: "  output: off")
    }()

    @Test func theReadmeLoopTripsTheRateLimitTheFirstTokenTimeoutAndTheBreaker() throws {
        #expect(Self.text.contains("output: off"))
        let proxy = try ProxyHarness(filterFile: Self.text, path: "default.yaml") { options in
            options.listen = ("127.0.0.1", 0)
            options.admin = ("127.0.0.1", 0)
        }
        defer { proxy.stop() }
        // By hand: a stream goes through whole.
        let plain = try TestClient.post(port: proxy.port, path: "/v1/chat/completions", json: TestClient.chatRequest())
        #expect(plain.status == 200)
        #expect(plain.bodyText.contains("data: [DONE]"))

        // 1. 80 quick requests at once on one key: its bucket holds 60 and refills 2 per second.
        let statuses = TestClient.statusesAtOnce(80, ports: [proxy.port], headers: [("x-api-key", "demo"), ("x-mock-tokens", "1")])
        let passed = statuses.filter { $0 == 200 }.count, limited = statuses.filter { $0 == 429 }.count
        #expect(passed >= 60 && passed <= 70, "\(statuses)")
        #expect(passed + limited == 80, "\(statuses)")

        // 3 (before the breaker opens, to save waiting for it): the first token takes 8 s; after 5 s
        // the stream ends with a first_token_timeout error event.
        let started = ContinuousClock.now
        let slow = try TestClient.post(port: proxy.port, path: "/v1/chat/completions", json: TestClient.chatRequest(),
                                       headers: [("x-mock-ttft", "8s")], timeout: .seconds(20))
        #expect(slow.status == 200)
        #expect(slow.sseEvents.contains { $0.data.contains("\"type\":\"first_token_timeout\"") }, "\(slow.bodyText)")
        #expect(ContinuousClock.now - started < .seconds(8))

        // 2. The fake answers 503: two attempts per request (retry), five failures open the breaker,
        // and then requests are refused at once.
        for _ in 0..<3 {
            let failed = try TestClient.post(port: proxy.port, path: "/v1/chat/completions", json: TestClient.chatRequest(),
                                             headers: [("x-mock-status", "503")])
            #expect(failed.status == 503)
        }
        let refused = try TestClient.post(port: proxy.port, path: "/v1/chat/completions", json: TestClient.chatRequest())
        #expect(refused.status == 503)
        #expect(refused.bodyText.contains("\"type\":\"circuit_open\""), "\(refused.bodyText)")
    }
}
