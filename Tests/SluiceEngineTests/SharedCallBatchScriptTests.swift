import SluiceFilterAPI
import SluiceRedis
import SluiceTesting
import Testing
@testable import SluiceEngine

/// The composite script of `SharedCallBatch`, run by a real Redis: groups, the stop at a refusal,
/// and a group whose script raises an error failing alone.
@Suite("one loop turn's shared calls as one script", .enabled(if: RedisTestServer.isInstalled, "redis-server is not installed"))
struct SharedCallBatchScriptTests {
    static let increment = SharedScript(name: "test_incr", source: "return {redis.call('INCRBY', KEYS[1], ARGV[1])}")
    static let broken = SharedScript(name: "test_broken", source: "return {redis.call('INCR', KEYS[1])}")

    private func call(_ script: SharedScript, _ key: String, _ by: Int = 1, goesOn: Int64 = 1) -> SharedCall {
        SharedCall(script: script, keys: ["{t}:" + key], arguments: [String(by)], goesOnWhenFirstValueIs: goesOn)
    }

    @Test func groupsStopAtARefusalAndAnErrorFailsOnlyItsGroup() throws {
        let redis = try RedisTestServer()
        try redis.command("HSET", "{t}:hash", "f", "v")  // INCR on a hash raises an error
        let groups = [
            // Goes on while the counter answers 1: the second answer (2) stops the group.
            SharedCallBatch.Group(calls: [call(Self.increment, "a"), call(Self.increment, "a"), call(Self.increment, "b")],
                                  stopsAtRefusal: true) { _ in },
            SharedCallBatch.Group(calls: [call(Self.broken, "hash")], stopsAtRefusal: false) { _ in },
            SharedCallBatch.Group(calls: [call(Self.increment, "c", 5), call(Self.increment, "c", 5, goesOn: 0)],
                                  stopsAtRefusal: false) { _ in },
        ]
        let (script, keys, arguments) = SharedCallBatch.pack(groups)
        let reply = try redis.command(["EVAL", script.source, String(keys.count)] + keys + arguments)
        guard case .array(let items) = reply else {
            Issue.record("the script answered \(reply)")
            return
        }
        let answers = SharedCallBatch.unpack(.values(items.compactMap(\.integerValue)), groups: groups)
        #expect(answers[0] == [.values([1]), .values([2]), nil])
        #expect(answers[1] == [.failed(.badAnswer("a script raised an error"))])
        // Without the stop, every call runs whatever it answers.
        #expect(answers[2] == [.values([5]), .values([10])])
        #expect(try redis.command("EXISTS", "{t}:b").integerValue == 0)  // not reached after the stop
    }

    @Test func anAnswerThatDoesNotFitTheGroupsFailsThemAll() {
        let groups = [SharedCallBatch.Group(calls: [call(Self.increment, "a")], stopsAtRefusal: true) { _ in }]
        let bad = SharedStoreAnswer.failed(.badAnswer("a batch answer of 3 values for 1 groups"))
        #expect(SharedCallBatch.unpack(.values([1, 5, 0]), groups: groups) == [[bad]])
        #expect(SharedCallBatch.unpack(.failed(.timeout), groups: groups) == [[.failed(.timeout)]])
    }
}
