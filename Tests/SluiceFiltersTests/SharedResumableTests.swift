import Foundation
import SluiceFilters
import SluiceHTTP
import SluiceMock
import SluiceTesting
import Testing

/// `resumable` with `shared: true`: two instances sharing one real `redis-server`, a stream started
/// on one and resumed on the other, over real sockets.
@Suite("resumable streams shared through Redis", .serialized, .enabled(if: RedisTestServer.isInstalled, "redis-server is not installed"))
struct SharedResumableTests {
    /// Two proxies of one `resumable` chain (`config`) sharing `redis`; each in front of its own fake
    /// upstream streaming `tokens` at `tps`.
    private static func instances(_ redis: RedisTestServer, config: String = "{ shared: true }", tokens: Int = 40, tps: Double = 20,
                                  settings: String = "") throws -> (ProxyHarness, ProxyHarness) {
        let text = SharedFixture.filterFile(chain: "- filter: resumable\n  config: \(config)", redis: redis, settings: settings)
        let a = try ProxyHarness(filterFile: text, upstreamSettings: ResumableTestClient.mock(tokens: tokens, tps: tps))
        do {
            return (a, try ProxyHarness(filterFile: text, upstreamSettings: ResumableTestClient.mock(tokens: tokens, tps: tps)))
        } catch {
            a.stop()
            throw error
        }
    }

    /// Starts a streamed chat completion on `proxy` as `credential`; the client and the stream id.
    private static func startStream(_ proxy: ProxyHarness, credential: String = "Bearer alice") throws -> (TestClient, String) {
        let (client, head) = try ResumableTestClient.startStream(proxy, credential: credential)
        return (client, try #require(head.headers["x-sluice-stream-id"]))
    }

    /// One uninterrupted stream through `proxy`, for reference: the fake upstream answers the same
    /// request with the same bytes.
    private static func whole(_ proxy: ProxyHarness) throws -> TestResponse {
        try TestClient.post(port: proxy.port, path: "/v1/chat/completions", json: TestClient.chatRequest(),
                            headers: [("authorization", "Bearer alice")], timeout: .seconds(20))
    }

    private static func readEvents(_ client: TestClient, _ count: Int) throws -> [SSEEvent] { try ResumableTestClient.readEvents(client, count) }

    /// `GET /sluice/streams/ID` on `proxy`; the whole answer.
    private static func resume(_ proxy: ProxyHarness, _ id: String, credential: String = "Bearer alice",
                               lastEventID: String? = nil) throws -> TestResponse {
        try ResumableTestClient.resume(proxy, "/sluice/streams/\(id)", credential: credential, lastEventID: lastEventID)
    }

    /// The state Redis holds for stream `id` of the test chain (`live`, `complete`, `cut`, `lost`), or nil.
    private static func state(_ redis: RedisTestServer, _ id: String) -> String? {
        (try? redis.command("HGET", "sluice:resumable:main:resumable:{\(id)}", "s"))?.text
    }

    /// Polls `condition` every 5 ms until it holds or `timeout` passes; returns whether it held.
    private static func waitUntil(_ timeout: Duration = .seconds(10), _ condition: () -> Bool) -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if condition() { return true }
            Thread.sleep(forTimeInterval: 0.005)
        }
        return condition()
    }

    // MARK: - Resuming on another instance

    @Test func aStreamLeftOnOneInstanceResumesLiveOnAnotherByteForByte() throws {
        let redis = try RedisTestServer()
        let (a, b) = try Self.instances(redis)
        defer { a.stop(); b.stop() }
        let whole = try Self.whole(a)
        #expect(whole.status == 200 && whole.ending == .complete)

        let (client, id) = try Self.startStream(a)
        let firstPart = try Self.readEvents(client, 3)
        #expect(firstPart.count == 3)
        client.close()
        // B never saw the stream: it reads Redis, then follows the live rest (a 2 s stream, 3 events in).
        let rest = try Self.resume(b, id, lastEventID: firstPart.last?.id)
        #expect(rest.status == 200)
        #expect(rest.head.headers["content-type"] == "text/event-stream")
        #expect(rest.head.headers["x-sluice-stream-id"] == id)
        #expect(rest.ending == .complete)
        #expect(firstPart.flatMap(\.serialized) + rest.body == whole.body, "the two parts are not the uninterrupted stream")
        let ids = (firstPart + rest.sseEvents).map(\.id)
        #expect(ids == ids.indices.map { String($0 + 1) }, "events duplicated, lost or reordered: \(ids)")
        // From the start, on B, the kept stream is the uninterrupted one; A's upstream was asked twice, B's never.
        #expect(try Self.resume(b, id).body == whole.body)
        #expect(a.upstream.journal.entries.count == 2)
        #expect(b.upstream.journal.entries.isEmpty)
        let scrape = try b.metrics()
        #expect(scrape.value("sluice_resumable_shared_resumes_total", [:]) == 2)
        #expect(scrape.value("sluice_resumable_resumes_total", ["result": "replayed"]) == 2)
        #expect(try a.metrics().value("sluice_resumable_shared_writes_total", ["result": "failed"]) == 0)
        // Nothing in Redis holds the credential: the keys carry the id, the hash a keyed digest.
        guard case .array(let items) = try redis.command("KEYS", "*") else { Issue.record("KEYS answered no array"); return }
        let keys = items.compactMap(\.text)
        #expect(!keys.isEmpty && keys.allSatisfy { !$0.contains("alice") })
        let credential = try redis.command("HGET", "sluice:resumable:main:resumable:{\(id)}", "c").text ?? ""
        #expect(!credential.isEmpty && !credential.contains("alice"))
    }

    @Test func aStreamThatEndedOnOneInstanceResumesOnAnotherWithTheRestThenTheEnd() throws {
        let redis = try RedisTestServer()
        let (a, b) = try Self.instances(redis, tokens: 20, tps: 100)
        defer { a.stop(); b.stop() }
        let whole = try Self.whole(a)
        let (client, id) = try Self.startStream(a)
        let firstPart = try Self.readEvents(client, 2)
        client.close()
        // The upstream runs on to its end without a client, and the end reaches Redis.
        #expect(a.upstream.journal.wait(timeout: .seconds(10)) { $0.count == 2 && $0[1].ending != nil })
        #expect(Self.waitUntil { Self.state(redis, id) == "complete" })
        let rest = try Self.resume(b, id, lastEventID: firstPart.last?.id)
        #expect(rest.status == 200 && rest.ending == .complete)
        #expect(firstPart.flatMap(\.serialized) + rest.body == whole.body)
        #expect(rest.sseEvents.last?.data == "[DONE]")
    }

    @Test func aReaderOnAnotherInstanceKeepsTheDetachedUpstreamRunningPastTheWindow() throws {
        let redis = try RedisTestServer()
        // A 1 s window and a 3 s stream: without B's reader, A cancels the upstream 1 s after its client left.
        let (a, b) = try Self.instances(redis, config: "{ window: 1s, shared: true }", tokens: 60, tps: 20)
        defer { a.stop(); b.stop() }
        let (client, id) = try Self.startStream(a)
        let firstPart = try Self.readEvents(client, 2)
        client.close()
        let rest = try Self.resume(b, id, lastEventID: firstPart.last?.id)
        #expect(rest.status == 200 && rest.ending == .complete)
        let ids = (firstPart + rest.sseEvents).map(\.id)
        #expect(ids == ids.indices.map { String($0 + 1) })
        #expect(a.upstream.journal.wait(timeout: .seconds(10)) { $0.first?.ending != nil })
        #expect(a.upstream.journal.entries.first?.ending == .finished)
        #expect(try a.metrics().value("sluice_resumable_upstreams_cancelled_total", ["reason": "window"]) == 0)
    }

    @Test func pastTheWindowAResumeOnAnotherInstanceAnswers410() throws {
        let redis = try RedisTestServer()
        let (a, b) = try Self.instances(redis, config: "{ window: 1s, shared: true }", tokens: 5, tps: 200)
        defer { a.stop(); b.stop() }
        let (client, id) = try Self.startStream(a)
        _ = try client.readResponse(timeout: .seconds(10))
        client.close()
        #expect(Self.waitUntil { Self.state(redis, id) == "complete" })
        // Within the window, B has it.
        #expect(try Self.resume(b, id, lastEventID: "2").status == 200)
        // The events expire with the window (the stream's hash stays one window more, for the 410).
        #expect(Self.waitUntil { (try? redis.command("EXISTS", "sluice:resumable:main:resumable:{\(id)}:events"))?.integerValue == 0 })
        let late = try Self.resume(b, id, lastEventID: "2")
        #expect(late.status == 410)
        #expect(late.bodyText.contains("\"code\":\"stream_gone\""))
        #expect(late.bodyText.contains("expired"))
    }

    @Test func anotherCredentialOrAnUnknownIDGets404OnAnotherInstance() throws {
        let redis = try RedisTestServer()
        let (a, b) = try Self.instances(redis, tokens: 5, tps: 200)
        defer { a.stop(); b.stop() }
        let (client, id) = try Self.startStream(a)
        _ = try client.readResponse(timeout: .seconds(10))
        client.close()
        #expect(Self.waitUntil { Self.state(redis, id) == "complete" })
        let mallory = try Self.resume(b, id, credential: "Bearer mallory")
        #expect(mallory.status == 404)
        #expect(mallory.bodyText.contains("\"code\":\"stream_not_found\""))
        #expect(try Self.resume(b, StreamID.make()).status == 404)
        #expect(try Self.resume(b, id).status == 200)
    }

    @Test func aCopyThatMissedAnEventIsGoneElsewhereNeverServedWithAHole() throws {
        let redis = try RedisTestServer()
        let (a, b) = try Self.instances(redis, tokens: 40, tps: 20)
        defer { a.stop(); b.stop() }
        let (client, id) = try Self.startStream(a)
        defer { client.close() }
        _ = try Self.readEvents(client, 2)
        // As if an append had been lost on the way: Redis now expects a later event than comes next.
        try redis.command("HINCRBY", "sluice:resumable:main:resumable:{\(id)}", "n", "3")
        #expect(Self.waitUntil { Self.state(redis, id) == "lost" })
        let elsewhere = try Self.resume(b, id, lastEventID: "1")
        #expect(elsewhere.status == 410)
        #expect(elsewhere.bodyText.contains("could not be kept whole"))
        // The instance that holds the stream still serves it whole, and its client never noticed.
        let rest = try client.readResponse(timeout: .seconds(10))
        #expect(rest.ending == .complete)
        let here = try Self.resume(a, id)
        #expect(here.status == 200 && here.body == rest.body)
        #expect(try a.metrics().value("sluice_resumable_shared_incomplete_total") == 1)
    }

    // MARK: - Redis down

    @Test func withRedisDownAResumeOnAnotherInstanceAnswers503AndTheProducingStreamIsUnharmed() throws {
        let redis = try RedisTestServer()
        let (a, b) = try Self.instances(redis, tokens: 30, tps: 50, settings: "on_failure: closed")
        defer { a.stop(); b.stop() }
        let (client, id) = try Self.startStream(a)
        defer { client.close() }
        #expect(try Self.readEvents(client, 2).count == 2)
        redis.stop()
        // The client on A reads its stream to the end, whatever Redis does.
        let rest = try client.readResponse(timeout: .seconds(10))
        #expect(rest.ending == .complete)
        #expect(rest.sseEvents.last?.data == "[DONE]")
        // A still resumes its own stream, from memory.
        let onA = try Self.resume(a, id, lastEventID: "1")
        #expect(onA.status == 200 && onA.ending == .complete)
        // B cannot know the stream: a clear 503, quickly.
        let started = ContinuousClock.now
        let onB = try Self.resume(b, id, lastEventID: "1")
        #expect(ContinuousClock.now - started < .seconds(2))
        #expect(onB.status == 503)
        #expect(onB.head.headers["retry-after"] == "1")
        #expect(onB.bodyText.contains("\"code\":\"stream_store_unavailable\""))
        #expect(!onB.bodyText.contains("127.0.0.1"), "what Redis said is the operator's, not the client's")
        let scrapeB = try b.metrics()
        #expect(scrapeB.value("sluice_resumable_resumes_total", ["result": "unavailable"]) == 1)
        #expect(scrapeB.value("sluice_resumable_shared_reads_total", ["result": "failed"]) == 1)
        #expect(scrapeB.value("sluice_shared_state_policy_applied_total", ["policy": "closed"]) == 1)
        #expect(try a.metrics().value("sluice_resumable_shared_writes_total", ["result": "failed"]) >= 1)
    }

    @Test func aFollowerWhoseRedisGoesAwayIsToldSoInsteadOfWaitingForever() throws {
        let redis = try RedisTestServer()
        let (a, b) = try Self.instances(redis, tokens: 200, tps: 20)
        defer { a.stop(); b.stop() }
        let (client, id) = try Self.startStream(a)
        defer { client.close() }
        _ = try Self.readEvents(client, 1)
        let follower = try TestClient(port: b.port)
        defer { follower.close() }
        try follower.send(HTTPRequestHead(method: "GET", target: "/sluice/streams/\(id)", headers: HTTPHeaders([
            ("host", "x"), ("authorization", "Bearer alice"), ("last-event-id", "1"),
        ])))
        #expect(try follower.readHead().status == 200)
        #expect(try Self.readEvents(follower, 1).count == 1)
        redis.stop()
        // A 10 s stream: the follower hears an error and a cut long before it would have ended.
        let started = ContinuousClock.now
        let rest = try follower.readResponse(timeout: .seconds(8))
        #expect(ContinuousClock.now - started < .seconds(5))
        #expect(rest.ending != .complete)
        #expect(rest.bodyText.contains("does not answer"))
    }

    // MARK: - The file check

    @Test func sharedTrueOnResumableNeedsASharedStateSectionWithItsPosition() throws {
        let without = ProxyHarness.filterFile(chain: "- filter: resumable\n  config: { window: 30s, shared: true }")
        do {
            let proxy = try ProxyHarness(filterFile: without, path: "r.yaml")
            proxy.stop()
            Issue.record("shared: true without shared_state was accepted")
        } catch let errors as FilterFileErrors {
            let lines = errors.errors.map(\.description)
            #expect(lines.contains { $0.hasPrefix("r.yaml:17:") && $0.contains("'shared: true' needs a top-level 'shared_state:' section") },
                    "\(lines)")
        }
        // Batch mode is for the limits only.
        let redis = try RedisTestServer()
        let batch = SharedFixture.filterFile(chain: "- filter: resumable\n  config: { shared: { batch: 4 } }", redis: redis)
        #expect(throws: FilterFileErrors.self) { try ProxyHarness(filterFile: batch, path: "r.yaml").stop() }
        // With the section, the file is valid and the filter shares.
        let proxy = try ProxyHarness(filterFile: SharedFixture.filterFile(chain: "- filter: resumable\n  config: { shared: true }",
                                                                          redis: redis))
        defer { proxy.stop() }
        #expect(try proxy.metrics().has("sluice_resumable_shared_writes_total"))
    }
}
