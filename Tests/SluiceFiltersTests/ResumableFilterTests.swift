import Foundation
import SluiceFilters
import SluiceHTTP
import SluiceMock
import SluiceTesting
import Testing

/// `resumable` over real sockets, in front of the scriptable fake LLM: what a client that leaves
/// and comes back gets, and what the upstream saw meanwhile.
@Suite(.serialized)
struct ResumableFilterTests {
    private static func chain(_ config: String = "") -> String {
        config.isEmpty ? "- filter: resumable" : "- filter: resumable\n  config: \(config)"
    }

    private static func mock(tokens: Int, tps: Double) -> MockSettings { ResumableTestClient.mock(tokens: tokens, tps: tps) }
    private static func startStream(_ proxy: ProxyHarness, credential: String? = "Bearer alice", path: String = "/v1/chat/completions",
                                    json: String = TestClient.chatRequest()) throws -> (TestClient, HTTPResponseHead) {
        try ResumableTestClient.startStream(proxy, credential: credential, path: path, json: json)
    }
    private static func readEvents(_ client: TestClient, _ count: Int) throws -> [SSEEvent] { try ResumableTestClient.readEvents(client, count) }
    private static func resume(_ proxy: ProxyHarness, _ target: String, credential: String? = "Bearer alice",
                               lastEventID: String? = nil) throws -> TestResponse {
        try ResumableTestClient.resume(proxy, target, credential: credential, lastEventID: lastEventID)
    }

    private static func wire(_ events: [SSEEvent]) -> [UInt8] {
        events.flatMap(\.serialized)
    }

    // MARK: - Leaving and coming back

    @Test func aClientThatLeavesAndResumesGetsTheRestByteForByteWithoutASecondUpstreamRequest() throws {
        let proxy = try ProxyHarness(chain: Self.chain(), upstreamSettings: Self.mock(tokens: 20, tps: 20))
        defer { proxy.stop() }
        // One uninterrupted stream, for reference (the fake upstream answers the same request with the same bytes).
        let whole = try TestClient.post(port: proxy.port, path: "/v1/chat/completions", json: TestClient.chatRequest(),
                                        headers: [("authorization", "Bearer alice")], timeout: .seconds(20))
        #expect(whole.status == 200)
        #expect(whole.ending == .complete)
        #expect(whole.sseEvents.map(\.id) == whole.sseEvents.indices.map { String($0 + 1) }, "every event gets its number as id")

        let (client, head) = try Self.startStream(proxy)
        let id = try #require(head.headers["x-sluice-stream-id"])
        #expect(id.count == 32)
        let firstPart = try Self.readEvents(client, 3)
        client.close()
        // The upstream runs on to its end without a client.
        #expect(proxy.upstream.journal.wait(timeout: .seconds(10)) { $0.count == 2 && $0[1].ending != nil })
        #expect(proxy.upstream.journal.entries[1].ending == .finished)

        let rest = try Self.resume(proxy, "/sluice/streams/\(id)", lastEventID: firstPart.last?.id)
        #expect(rest.status == 200)
        #expect(rest.head.headers["content-type"] == "text/event-stream")
        #expect(rest.ending == .complete)
        #expect(Self.wire(firstPart) + rest.body == whole.body, "the two parts are not the uninterrupted stream")
        #expect(rest.sseEvents.last?.data == "[DONE]")
        // From the start, the kept stream is the uninterrupted one.
        let fromStart = try Self.resume(proxy, "/sluice/streams/\(id)")
        #expect(fromStart.body == whole.body)
        // No second upstream request for either resume.
        #expect(proxy.upstream.journal.entries.count == 2)
    }

    @Test func aResumeWhileTheStreamRunsGetsTheKeptEventsThenTheLiveRest() throws {
        let proxy = try ProxyHarness(chain: Self.chain(), upstreamSettings: Self.mock(tokens: 40, tps: 20))
        defer { proxy.stop() }
        let (client, head) = try Self.startStream(proxy)
        let id = try #require(head.headers["x-sluice-stream-id"])
        let firstPart = try Self.readEvents(client, 2)
        client.close()
        // Both resumers join while the upstream still sends (a 2 s stream, 2 events in).
        let one = try TestClient(port: proxy.port)
        let two = try TestClient(port: proxy.port)
        defer { one.close(); two.close() }
        try one.send(HTTPRequestHead(method: "GET", target: "/sluice/streams/\(id)", headers: HTTPHeaders([
            ("host", "x"), ("authorization", "Bearer alice"), ("last-event-id", firstPart.last?.id ?? ""),
        ])))
        // The query parameter, for clients that cannot set headers.
        try two.send(HTTPRequestHead(method: "GET", target: "/sluice/streams/\(id)?last_event_id=\(firstPart.last?.id ?? "")",
                                     headers: HTTPHeaders([("host", "x"), ("authorization", "Bearer alice")])))
        let first = try one.readResponse(timeout: .seconds(20))
        let second = try two.readResponse(timeout: .seconds(20))
        #expect(first.status == 200 && second.status == 200)
        #expect(first.ending == .complete && second.ending == .complete)
        #expect(first.body == second.body)
        let ids = (firstPart + first.sseEvents).map(\.id)
        #expect(ids == ids.indices.map { String($0 + 1) }, "events duplicated, lost or reordered: \(ids)")
        #expect(first.sseEvents.last?.data == "[DONE]")
        #expect(proxy.upstream.journal.entries.count == 1)
        #expect(proxy.upstream.journal.entries.first?.ending == .finished)
    }

    @Test func aResumeAfterTheStreamEndedMeanwhileGetsTheRestThenTheEnd() throws {
        let proxy = try ProxyHarness(chain: Self.chain(), upstreamSettings: Self.mock(tokens: 12, tps: 30))
        defer { proxy.stop() }
        let (client, head) = try Self.startStream(proxy)
        let id = try #require(head.headers["x-sluice-stream-id"])
        let firstPart = try Self.readEvents(client, 4)
        client.close()
        // The exchange has ended (its upstream finished): counted as the client's leaving.
        let scrape = try proxy.metrics(within: .seconds(10)) { $0.value("sluice_requests_total", ["outcome": "client_gone"]) == 1 }
        #expect(scrape.value("sluice_requests_total", ["outcome": "client_gone"]) == 1)
        #expect(scrape.value("sluice_resumable_upstreams_kept_total") == 1)
        #expect(proxy.upstream.journal.entries.first?.ending == .finished)

        let rest = try Self.resume(proxy, "/sluice/streams/\(id)", lastEventID: firstPart.last?.id)
        #expect(rest.status == 200)
        #expect(rest.ending == .complete)
        let ids = (firstPart + rest.sseEvents).map(\.id)
        #expect(ids == ids.indices.map { String($0 + 1) })
        #expect(rest.sseEvents.last?.data == "[DONE]")
        let after = try proxy.metrics()
        #expect(after.value("sluice_resumable_resumes_total", ["result": "replayed"]) == 1)
        #expect(after.value("sluice_resumable_kept_streams") == 1)
        #expect(after.value("sluice_resumable_kept_bytes") == Double(Self.wire(firstPart).count + rest.body.count))
    }

    @Test func aResumeAfterTheWindowAnswers410() throws {
        let clock = ManualClock()
        let proxy = try ProxyHarness(chain: Self.chain("{ window: 60s }"), upstreamSettings: Self.mock(tokens: 5, tps: 200), clock: clock)
        defer { proxy.stop() }
        let whole = try TestClient.post(port: proxy.port, path: "/v1/chat/completions", json: TestClient.chatRequest(),
                                        headers: [("authorization", "Bearer alice")])
        let id = try #require(whole.head.headers["x-sluice-stream-id"])
        clock.advance(by: .seconds(59))
        let inTime = try Self.resume(proxy, "/sluice/streams/\(id)", lastEventID: "2")
        #expect(inTime.status == 200)
        #expect(inTime.sseEvents.first?.id == "3")
        clock.advance(by: .seconds(2))
        let late = try Self.resume(proxy, "/sluice/streams/\(id)", lastEventID: "2")
        #expect(late.status == 410)
        #expect(late.head.headers["content-type"]?.hasPrefix("application/json") == true)
        #expect(late.bodyText.contains("\"code\":\"stream_gone\""))
        #expect(late.bodyText.contains("expired"))
        // Gone for its owner only: anyone else still hears that it does not exist.
        #expect(try Self.resume(proxy, "/sluice/streams/\(id)", credential: "Bearer mallory").status == 404)
    }

    @Test func anUnknownOrMalformedIDAnswers404() throws {
        let proxy = try ProxyHarness(chain: Self.chain())
        defer { proxy.stop() }
        let unknown = try Self.resume(proxy, "/sluice/streams/0123456789abcdef0123456789abcdef", lastEventID: "1")
        #expect(unknown.status == 404)
        #expect(unknown.bodyText.contains("\"code\":\"stream_not_found\""))
        for target in ["/sluice/streams/", "/sluice/streams/nope", "/sluice/streams/../../v1/chat/completions",
                       "/sluice/streams/0123456789ABCDEF0123456789ABCDEF"] {
            #expect(try Self.resume(proxy, target).status == 404, "\(target)")
        }
        let bad = try Self.resume(proxy, "/sluice/streams/0123456789abcdef0123456789abcdef?last_event_id=%zz")
        #expect(bad.status == 400)
        let post = try TestClient.post(port: proxy.port, path: "/sluice/streams/0123456789abcdef0123456789abcdef", json: "{}")
        #expect(post.status == 405)
        #expect(post.head.headers["allow"] == "GET")
        #expect(proxy.upstream.journal.entries.isEmpty, "a resume reached the upstream")
    }

    @Test func anotherCredentialGets404() throws {
        let proxy = try ProxyHarness(chain: Self.chain(), upstreamSettings: Self.mock(tokens: 5, tps: 200))
        defer { proxy.stop() }
        let whole = try TestClient.post(port: proxy.port, path: "/v1/chat/completions", json: TestClient.chatRequest(),
                                        headers: [("authorization", "Bearer alice")])
        let id = try #require(whole.head.headers["x-sluice-stream-id"])
        #expect(try Self.resume(proxy, "/sluice/streams/\(id)", credential: "Bearer mallory").status == 404)
        #expect(try Self.resume(proxy, "/sluice/streams/\(id)", credential: nil).status == 404)
        let owner = try Self.resume(proxy, "/sluice/streams/\(id)")
        #expect(owner.status == 200)
        #expect(owner.body == whole.body)
    }

    @Test func aResumeFromAnEventNoLongerKeptAnswers410NotAPartialReplay() throws {
        // 1 KiB keeps about five events of the fake upstream's stream: the first ones slide out.
        let proxy = try ProxyHarness(chain: Self.chain("{ max_bytes: 1KiB }"), upstreamSettings: Self.mock(tokens: 20, tps: 200))
        defer { proxy.stop() }
        let whole = try TestClient.post(port: proxy.port, path: "/v1/chat/completions", json: TestClient.chatRequest(),
                                        headers: [("authorization", "Bearer alice")])
        let id = try #require(whole.head.headers["x-sluice-stream-id"])
        #expect(try Self.resume(proxy, "/sluice/streams/\(id)", lastEventID: "1").status == 410)
        #expect(try Self.resume(proxy, "/sluice/streams/\(id)").status == 410)
        let lastTwo = whole.sseEvents.suffix(3)
        let tail = try Self.resume(proxy, "/sluice/streams/\(id)", lastEventID: lastTwo.first?.id)
        #expect(tail.status == 200)
        #expect(tail.body == Self.wire(Array(lastTwo.dropFirst())))
    }

    @Test func anAnthropicStreamResumesTheSameWay() throws {
        let proxy = try ProxyHarness(chain: Self.chain(), upstreamSettings: Self.mock(tokens: 20, tps: 20))
        defer { proxy.stop() }
        let json = #"{"model":"claude-mock","max_tokens":20,"stream":true,"messages":[{"role":"user","content":"hi"}]}"#
        let whole = try TestClient.post(port: proxy.port, path: "/v1/messages", json: json,
                                        headers: [("authorization", "Bearer alice")], timeout: .seconds(20))
        #expect(whole.sseEvents.first?.event == "message_start")
        let (client, head) = try Self.startStream(proxy, path: "/v1/messages", json: json)
        let id = try #require(head.headers["x-sluice-stream-id"])
        let firstPart = try Self.readEvents(client, 4)
        client.close()
        let rest = try Self.resume(proxy, "/sluice/streams/\(id)", lastEventID: firstPart.last?.id)
        #expect(rest.status == 200)
        #expect(rest.ending == .complete)
        #expect(Self.wire(firstPart) + rest.body == whole.body)
        #expect(rest.sseEvents.last?.event == "message_stop")
    }

    @Test func keptStreamsSurviveAReload() throws {
        let path = ProxyHarness.temporaryFilterFilePath()
        let proxy = try ProxyHarness(filterFile: ProxyHarness.filterFile(chain: Self.chain("{ window: 60s }")), path: path,
                                     upstreamSettings: Self.mock(tokens: 5, tps: 200))
        defer { proxy.stop() }
        let whole = try TestClient.post(port: proxy.port, path: "/v1/chat/completions", json: TestClient.chatRequest(),
                                        headers: [("authorization", "Bearer alice")])
        let id = try #require(whole.head.headers["x-sluice-stream-id"])
        let reloaded = try proxy.reload(filterFile: ProxyHarness.filterFile(chain: Self.chain("{ window: 120s }")))
        guard case .success = reloaded else {
            Issue.record("the reload failed: \(reloaded)")
            return
        }
        let after = try Self.resume(proxy, "/sluice/streams/\(id)")
        #expect(after.status == 200)
        #expect(after.body == whole.body)
    }

    // MARK: - Budgets

    @Test func aDetachedUpstreamIsCancelledAWindowAfterItsClientLeft() throws {
        let proxy = try ProxyHarness(chain: Self.chain("{ window: 1s }"), upstreamSettings: Self.mock(tokens: 400, tps: 20))
        defer { proxy.stop() }
        let (client, head) = try Self.startStream(proxy)
        let id = try #require(head.headers["x-sluice-stream-id"])
        _ = try Self.readEvents(client, 2)
        client.close()
        // Nobody comes back: a second later the upstream is cancelled, long before its 20 s end.
        #expect(proxy.upstream.journal.wait(timeout: .seconds(10)) { $0.first?.ending != nil })
        let entry = try #require(proxy.upstream.journal.entries.first)
        #expect(entry.ending == .cancelledByPeer)
        #expect(entry.bodyStepsSent < entry.bodyStepsPlanned / 2)
        let gone = try Self.resume(proxy, "/sluice/streams/\(id)", lastEventID: "2")
        #expect(gone.status == 410)
        #expect(gone.bodyText.contains("expired"))
        let scrape = try proxy.metrics()
        #expect(scrape.value("sluice_resumable_upstreams_cancelled_total", ["reason": "window"]) == 1)
        #expect(scrape.value("sluice_resumable_streams_lost_total", ["reason": "expired"]) == 1)
        #expect(scrape.value("sluice_resumable_kept_streams") == 0)
    }

    @Test func aDetachedUpstreamIsCancelledWhenTheByteBudgetRunsOut() throws {
        let proxy = try ProxyHarness(chain: Self.chain("{ max_bytes: 4KiB }"), upstreamSettings: Self.mock(tokens: 400, tps: 100))
        defer { proxy.stop() }
        let (client, head) = try Self.startStream(proxy)
        let id = try #require(head.headers["x-sluice-stream-id"])
        let firstPart = try Self.readEvents(client, 2)
        client.close()
        // The upstream sees its client leave once the kept stream reaches 4 KiB, long before its end.
        #expect(proxy.upstream.journal.wait(timeout: .seconds(10)) { $0.first?.ending != nil })
        let entry = try #require(proxy.upstream.journal.entries.first)
        #expect(entry.ending == .cancelledByPeer)
        #expect(entry.bodyStepsSent < entry.bodyStepsPlanned / 2)
        // The kept part resumes, and ends as the stream did: cut, with an error event.
        let rest = try Self.resume(proxy, "/sluice/streams/\(id)", lastEventID: firstPart.last?.id)
        #expect(rest.status == 200)
        #expect(rest.ending != .complete)
        let events = rest.sseEvents
        let ids = (firstPart + events.dropLast()).map(\.id)
        #expect(ids == ids.indices.map { String($0 + 1) })
        #expect(events.last?.data.contains("\"error\"") == true)
        // It ran on after the client left, until what is kept would pass 4 KiB (an event is about 200 bytes).
        let kept = Self.wire(firstPart).count + Self.wire(Array(events.dropLast())).count
        #expect(kept > 3 * 1024 && kept <= 4 * 1024, "kept \(kept) bytes")
        let scrape = try proxy.metrics()
        #expect(scrape.value("sluice_resumable_upstreams_cancelled_total", ["reason": "max_bytes"]) == 1)
        #expect(scrape.value("sluice_resumable_kept_bytes") == Double(kept))
    }

    @Test func pastTheGlobalCapALiveStreamLosesResumabilityAndItsUpstreamEndsWithItsClient() throws {
        let proxy = try ProxyHarness(chain: Self.chain("{ max_bytes: 1KiB, max_total_bytes: 1KiB }"),
                                     upstreamSettings: Self.mock(tokens: 400, tps: 50))
        defer { proxy.stop() }
        // The first stream fills the cap and keeps it while it runs.
        let (first, _) = try Self.startStream(proxy)
        defer { first.close() }
        _ = try Self.readEvents(first, 8)
        let (second, head) = try Self.startStream(proxy)
        let id = try #require(head.headers["x-sluice-stream-id"])
        _ = try Self.readEvents(second, 2)
        second.close()
        #expect(proxy.upstream.journal.wait(timeout: .seconds(10)) { $0.count == 2 && $0[1].ending != nil })
        #expect(proxy.upstream.journal.entries[1].ending == .cancelledByPeer)
        let gone = try Self.resume(proxy, "/sluice/streams/\(id)", lastEventID: "1")
        #expect(gone.status == 410)
        #expect(gone.bodyText.contains("memory cap"))
        let scrape = try proxy.metrics()
        #expect(scrape.value("sluice_resumable_streams_lost_total", ["reason": "memory_cap"]) == 1)
        #expect(scrape.value("sluice_resumable_kept_bytes") <= 1024)
    }

    @Test func pastTheGlobalCapTheOldestFinishedStreamGoesFirst() throws {
        let proxy = try ProxyHarness(chain: Self.chain("{ max_bytes: 1KiB, max_total_bytes: 2KiB }"),
                                     upstreamSettings: Self.mock(tokens: 10, tps: 200))
        defer { proxy.stop() }
        var ids: [String] = []
        for _ in 0..<3 {
            let whole = try TestClient.post(port: proxy.port, path: "/v1/chat/completions", json: TestClient.chatRequest(),
                                            headers: [("authorization", "Bearer alice")])
            ids.append(try #require(whole.head.headers["x-sluice-stream-id"]))
        }
        let last = try #require(ids.last)
        #expect(try Self.resume(proxy, "/sluice/streams/\(ids[0])", lastEventID: "8").status == 410)
        #expect(try Self.resume(proxy, "/sluice/streams/\(last)", lastEventID: "8").status == 200)
        #expect(try proxy.metrics().value("sluice_resumable_streams_lost_total", ["reason": "evicted"]) >= 1)
    }

    // MARK: - The file check

    @Test func badSettingsAreReportedWithTheirPositions() throws {
        do {
            let proxy = try ProxyHarness(chain: Self.chain("{ window: 0s, max_bytes: lots, resume_path: streams }"))
            proxy.stop()
            Issue.record("a resumable filter with bad settings was accepted")
        } catch let errors as FilterFileErrors {
            let text = errors.description
            #expect(errors.errors.count == 3, "\(text)")
            #expect(text.contains("test.yaml:17:"), "\(text)")
            #expect(text.contains("'window' must be between"))
            #expect(text.contains("'max_bytes' must be a size"))
            #expect(text.contains("'resume_path' must start with '/'"))
        }
        do {
            let proxy = try ProxyHarness(chain: Self.chain("{ max_bytes: 8MiB, max_total_bytes: 4MiB }"))
            proxy.stop()
            Issue.record("max_total_bytes below max_bytes was accepted")
        } catch let errors as FilterFileErrors {
            #expect(errors.description.contains("'max_total_bytes' must be at least 'max_bytes'"))
        }
    }
}
