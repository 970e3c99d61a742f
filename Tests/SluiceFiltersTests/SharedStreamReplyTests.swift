@testable import SluiceFilters
import SluiceFilterAPI
import Testing

/// What `RedisStreamScripts.follow` answers, as `RedisStreamStore` reads it: a page claims no more
/// events than it holds, and a stream ends only once its last event was fetched.
struct SharedStreamReplyTests {
    private static func text(_ s: String) -> SharedReply { .bytes(Array(s.utf8)) }

    @Test func everyAnswerOfTheScriptIsRead() {
        #expect(SharedStreamReply(.array([Self.text("not_found")])) == .notFound)
        #expect(SharedStreamReply(.array([Self.text("unknown_event_id")])) == .unknownEventID)
        #expect(SharedStreamReply(.array([Self.text("gone"), Self.text("out_of_window")])) == .gone(.outOfWindow))
        #expect(SharedStreamReply(.array([Self.text("gone"), Self.text("incomplete")])) == .gone(.incomplete))
        let reply = SharedStreamReply(.array([Self.text("ok"), .integer(3), .integer(5), Self.text("anthropic"), Self.text("cut"),
                                              Self.text("upstream reset"), .integer(4), Self.text("e3"), Self.text("e4")]))
        guard case .page(let page) = reply else { Issue.record("not a page: \(String(describing: reply))"); return }
        #expect(page.start == 3 && page.next == 5 && page.dialect == .anthropic && page.events == [Array("e3".utf8), Array("e4".utf8)])
        #expect(page.ending == .cut("upstream reset"))
    }

    @Test func aStreamEndsOnlyOnceItsLastEventWasFetched() {
        let partial = SharedStreamReply(.array([Self.text("ok"), .integer(1), .integer(2), Self.text("openai"), Self.text("complete"),
                                                Self.text(""), .integer(9), Self.text("e1")]))
        guard case .page(let page) = partial else { Issue.record("not a page"); return }
        #expect(page.ending == nil, "events 2...9 are still to fetch")
    }

    @Test func anythingElseIsNoAnswer() {
        #expect(SharedStreamReply(.integer(1)) == nil)
        #expect(SharedStreamReply(.array([Self.text("maybe")])) == nil)
        // It says two events and holds one.
        #expect(SharedStreamReply(.array([Self.text("ok"), .integer(1), .integer(3), Self.text("openai"), Self.text("live"),
                                          Self.text(""), .integer(2), Self.text("e1")])) == nil)
        #expect(SharedStreamReply(.array([Self.text("ok"), .integer(1), .integer(1), Self.text("klingon"), Self.text("live"),
                                          Self.text(""), .integer(0)])) == nil)
    }
}
