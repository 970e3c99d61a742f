import CustomFilters
import Testing

/// `RedactionStream` on its own: a filter's logic tested without a proxy.
@Suite struct RedactionStreamTests {
    /// Feeds `pieces` in turn and answers what was sent for each, then what `finish` released.
    private func run(_ rules: RedactionRules, _ pieces: [String]) -> (sent: [String], released: String) {
        var stream = RedactionStream(rules: rules)
        let sent = pieces.map { stream.feed($0) }
        return (sent, stream.finish())
    }

    @Test func aLiteralInOnePieceIsReplaced() {
        let result = run(RedactionRules(literals: ["secret"], replacement: "#"), ["a secret here"])
        #expect(result.sent == ["a # here"])
        #expect(result.released == "")
    }

    @Test func aLiteralSplitOverThreePiecesIsReplacedWhenItCompletes() {
        let result = run(RedactionRules(literals: ["secret"], replacement: "#"), ["a se", "cr", "et!"])
        #expect(result.sent == ["a ", "", "#!"])
    }

    @Test func aTailThatStopsMatchingIsSentWithTheNextPiece() {
        let result = run(RedactionRules(literals: ["secret"], replacement: "#"), ["a sec", "ond"])
        #expect(result.sent == ["a ", "second"])
    }

    @Test func heldTextIsReleasedByFinish() {
        let result = run(RedactionRules(literals: ["secret"], replacement: "#"), ["the sec"])
        #expect(result.sent == ["the "])
        #expect(result.released == "sec")
    }

    @Test func theLongestLiteralWinsAtTheSamePlaceEvenWhenItCompletesLater() {
        let result = run(RedactionRules(literals: ["ab", "abcd"], replacement: "#"), ["xab", "cd", "ab!"])
        #expect(result.sent.joined() + result.released == "x##!")
        let shorter = run(RedactionRules(literals: ["ab", "abcd"], replacement: "#"), ["xab", "c!"])
        #expect(shorter.sent.joined() + shorter.released == "x#c!")
    }

    @Test func theReplacementIsNotSearchedAgain() {
        let result = run(RedactionRules(literals: ["aa"], replacement: "a"), ["aaa", "a"])
        #expect(result.sent.joined() + result.released == "aa")
    }

    @Test func aPatternHoldsBackAtMostItsMaximumLengthLessOne() throws {
        let rules = RedactionRules(literals: [], patterns: [try Regex(#"\d{4}"#)], maxPatternLength: 4, replacement: "####")
        let result = run(rules, ["card 12", "34 and 5678 done"])
        #expect(result.sent[0] == "card")
        #expect(result.sent.joined() + result.released == "card #### and #### done")
    }

    @Test func everySplitOfATextGivesTheSameResult() throws {
        let rules = RedactionRules(literals: ["alpha bravo", "echo"], patterns: [try Regex("g[a-z]+f")],
                                   maxPatternLength: 8, replacement: "[x]")
        let text = "alpha bravo charlie echo golf alpha brav echo"
        let whole = run(rules, [text])
        let expected = whole.sent.joined() + whole.released
        #expect(expected == "[x] charlie [x] [x] alpha brav [x]")
        for cut in 0...text.count {
            let i = text.index(text.startIndex, offsetBy: cut)
            let split = run(rules, [String(text[..<i]), String(text[i...])])
            #expect(split.sent.joined() + split.released == expected, "cut at \(cut)")
        }
    }
}
