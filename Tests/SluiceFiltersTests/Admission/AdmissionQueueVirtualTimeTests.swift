import SluiceFilters
import SluiceTesting
import Testing

/// `admission`'s queue on virtual time: who waits, in which order they are admitted, how long
/// they may wait, and the position comments a waiting streaming client hears. Each request is an
/// `EmbeddedExchange` on one shared clock; a slot frees when an admitted exchange ends.
@Suite struct AdmissionQueueVirtualTimeTests {
    private let clock = ManualClock()

    private func admission(_ config: String) throws -> AdmissionFilter {
        let filter = try FilterTestBench.makeFilter("admission", config: config, registry: BuiltinFilters.registry(),
                                                    clock: clock)
        return try #require(filter as? AdmissionFilter)
    }

    /// A request through `filter`; `request()` was called, so it is admitted, queued or refused.
    private func arrive(_ filter: AdmissionFilter, _ id: String, headers: [(String, String)] = []) -> EmbeddedExchange {
        let embedded = EmbeddedExchange(filter, name: "admission", clock: clock, headers: headers, id: id)
        embedded.request()
        return embedded
    }

    /// Ends `embedded` as a completed response, then lets the exchanges `waiting` run what the
    /// freed slot woke (a wake-up reaches a waiting exchange through its loop).
    private func complete(_ embedded: EmbeddedExchange, waking waiting: [EmbeddedExchange]) {
        embedded.end(Outcome(kind: .completed, status: 200))
        for other in waiting { other.runPendingWork() }
    }

    /// Admitted: past the request phase, neither waiting nor ended.
    private func isAdmitted(_ embedded: EmbeddedExchange) -> Bool {
        !embedded.isSuspended && !embedded.isEnded
    }

    @Test func waitingRequestsAreAdmittedByPriority() throws {
        let filter = try admission("{ max_active_streams: 1 }")
        let holder = arrive(filter, "holder")
        #expect(isAdmitted(holder))
        let low = arrive(filter, "low", headers: [("x-priority", "low")])
        let normal = arrive(filter, "normal")
        let high = arrive(filter, "high", headers: [("x-priority", "HIGH")])
        let waiting = [low, normal, high]
        #expect(waiting.allSatisfy { $0.isSuspended })
        #expect(filter.queueLength == 3)

        var order: [String] = []
        var running = holder
        for _ in 0..<3 {
            complete(running, waking: waiting)
            let admitted = waiting.filter { isAdmitted($0) }
            #expect(admitted.count == 1)
            guard let next = admitted.first else { return }
            order.append(next.exchange.id)
            running = next
        }
        #expect(order == ["high", "normal", "low"])
        complete(running, waking: [])
        #expect(filter.activeStreams == 0)
        #expect(filter.queueLength == 0)
    }

    @Test func pastTheMaximumWaitTheAnswerIs503QueueTimeoutWithRetryAfter() throws {
        let filter = try admission("{ max_active_streams: 1, retry_after: 7, queue: { max_wait: 300ms } }")
        let holder = arrive(filter, "holder")
        let waiter = arrive(filter, "waiter")
        #expect(waiter.isSuspended)
        waiter.advanceTime(by: .milliseconds(299))
        #expect(waiter.isSuspended)
        #expect(filter.queueLength == 1)
        waiter.advanceTime(by: .milliseconds(1))
        #expect(waiter.outcome?.kind == .rejected)
        #expect(waiter.outcome?.status == 503)
        #expect(waiter.outcome?.error?.kind == .queueTimeout)
        #expect(waiter.outcome?.error?.retryAfterSeconds == 7)
        #expect(waiter.outcome?.decidedBy == "admission")
        #expect(filter.queueLength == 0)
        // The holder keeps its slot, and gives it back when it ends.
        #expect(filter.activeStreams == 1)
        complete(holder, waking: [])
        #expect(filter.activeStreams == 0)
    }

    @Test func aFullQueueAnswers503OverloadedAtOnceAndTheOneWaitingKeepsItsTurn() throws {
        let filter = try admission("{ max_active_streams: 1, queue: { max_length: 1, max_per_client: 100% } }")
        let holder = arrive(filter, "holder")
        let waiter = arrive(filter, "waiter")
        let refused = arrive(filter, "refused")
        #expect(refused.outcome?.status == 503)
        #expect(refused.outcome?.error?.kind == .overloaded)
        #expect(refused.outcome?.error?.retryAfterSeconds == 1)
        #expect(filter.queueLength == 1)
        complete(holder, waking: [waiter])
        #expect(isAdmitted(waiter))
    }

    @Test func oneKeyCannotTakeMoreThanItsShareAndKeysTakeTurns() throws {
        let filter = try admission(
            "{ max_active_streams: 1, key: { header: x-api-key }, queue: { max_length: 4, max_per_client: 50% } }")
        let holder = arrive(filter, "holder", headers: [("x-api-key", "key-h")])
        let a1 = arrive(filter, "a1", headers: [("x-api-key", "key-a")])
        let a2 = arrive(filter, "a2", headers: [("x-api-key", "key-a")])
        // Key a has its two places (half of four); a third is refused at once though the queue has room.
        let a3 = arrive(filter, "a3", headers: [("x-api-key", "key-a")])
        #expect(a3.outcome?.status == 503)
        #expect(a3.outcome?.error?.kind == .overloaded)
        #expect(filter.queueLength == 2)
        // Another key still queues.
        let b1 = arrive(filter, "b1", headers: [("x-api-key", "key-b")])
        #expect(b1.isSuspended)
        let waiting = [a1, a2, b1]
        var order: [String] = []
        var running = holder
        for _ in 0..<3 {
            complete(running, waking: waiting)
            guard let next = waiting.first(where: { isAdmitted($0) && !order.contains($0.exchange.id) }) else { break }
            order.append(next.exchange.id)
            running = next
        }
        // Round-robin between keys: b1 does not wait behind both of a's requests.
        #expect(order == ["a1", "b1", "a2"])
    }

    @Test func aClientThatLeavesWhileQueuedOnlyLeavesTheQueue() throws {
        let filter = try admission("{ max_active_streams: 1 }")
        let holder = arrive(filter, "holder")
        let gone = arrive(filter, "gone")
        gone.clientLeaves()
        #expect(gone.outcome?.kind == .clientGone)
        #expect(filter.queueLength == 0)
        #expect(filter.activeStreams == 1)
        // The next request is first in line, not second.
        let next = arrive(filter, "next")
        complete(holder, waking: [next])
        #expect(isAdmitted(next))
        complete(next, waking: [])
        #expect(filter.activeStreams == 0)
    }

    @Test func aWaitingStreamingClientHearsItsPositionUntilAdmitted() throws {
        let filter = try admission("{ max_active_streams: 1, queue: { position_comments: 100ms } }")
        let holder = arrive(filter, "holder")
        // Ahead in line and silent: it did not ask for an event stream.
        let quiet = arrive(filter, "quiet")
        let listener = arrive(filter, "listener", headers: [("accept", "text/event-stream")])
        #expect(listener.isSuspended)

        // The first comment goes out at once, after a 200 event-stream head.
        guard case .head(let head)? = listener.written.first else {
            Issue.record("expected a head first, got \(listener.written)")
            return
        }
        #expect(head.status == 200)
        #expect(head.headers["content-type"] == "text/event-stream")
        #expect(listener.comments == ["queued: position 2"])
        listener.advanceTime(by: .milliseconds(99))
        #expect(listener.comments.count == 1)
        listener.advanceTime(by: .milliseconds(1))
        #expect(listener.comments == ["queued: position 2", "queued: position 2"])

        complete(holder, waking: [quiet, listener])
        #expect(isAdmitted(quiet))
        listener.advanceTime(by: .milliseconds(100))
        #expect(listener.comments.last == "queued: position 1")
        #expect(quiet.written.isEmpty)

        complete(quiet, waking: [listener])
        #expect(isAdmitted(listener))
        let heard = listener.comments.count
        // Admitted: no more comments, and its timer is gone.
        listener.advanceTime(by: .seconds(1))
        #expect(listener.comments.count == heard)
        #expect(listener.startAttempt() == .next)
        listener.upstreamConnected()
        #expect(listener.responseHead() == .next)
        listener.event(data: #"{"choices":[{"delta":{"content":"hi"}}]}"#)
        // Comments only while waiting: all of them come before the first event, and one head only.
        let firstEvent = try #require(listener.written.firstIndex { if case .event = $0 { true } else { false } })
        #expect(listener.written[..<firstEvent].dropFirst().allSatisfy { if case .comment = $0 { true } else { false } })
        #expect(listener.written.filter { if case .head = $0 { true } else { false } }.count == 1)
    }
}
