@testable import SluiceRedis
import Testing

@Suite("RESP parser")
struct RESPParserTests {
    static func parseAll(_ text: String, limits: RESPParser.Limits = RESPParser.Limits()) throws -> [RESPValue] {
        var parser = RESPParser(limits: limits)
        parser.append(Array(text.utf8))
        var values: [RESPValue] = []
        while let value = try parser.next() { values.append(value) }
        return values
    }

    @Test func readsEveryType() throws {
        let values = try Self.parseAll("+OK\r\n-ERR bad thing\r\n:42\r\n:-7\r\n$3\r\nabc\r\n$0\r\n\r\n$-1\r\n*-1\r\n*2\r\n:1\r\n*1\r\n$1\r\nx\r\n")
        #expect(values == [
            .simple("OK"), .error("ERR bad thing"), .integer(42), .integer(-7), .bulk(Array("abc".utf8)), .bulk([]),
            .null, .null, .array([.integer(1), .array([.bulk([120])])]),
        ])
    }

    @Test func bulkStringsAreBinarySafe() throws {
        var parser = RESPParser()
        parser.append([36, 52, 13, 10, 13, 10, 0, 255, 13, 10])
        #expect(try parser.next() == .bulk([13, 10, 0, 255]))
    }

    @Test func incompleteInputWaitsForMore() throws {
        var parser = RESPParser()
        for piece in ["*2\r", "\n:1", "\r\n$5\r\nhel", "lo", "\r"] {
            parser.append(Array(piece.utf8))
            #expect(try parser.next() == nil)
        }
        parser.append([10])
        #expect(try parser.next() == .array([.integer(1), .bulk(Array("hello".utf8))]))
        #expect(parser.bufferedCount == 0)
    }

    @Test(arguments: [
        ("!3\r\n", RESPParseError.unknownType(33)),
        ("+OK\n", .badLineEnding),
        ("+O\rK\r\n", .badLineEnding),
        (":+1\r\n", .badInteger),
        (":01\r\n", .badInteger),
        (":-0\r\n", .badInteger),
        (": 1\r\n", .badInteger),
        (":\r\n", .badInteger),
        (":99999999999999999999\r\n", .badInteger),
        ("$-2\r\n", .negativeLength),
        ("*-5\r\n", .negativeLength),
        ("$3\r\nabcd\r\n", .badBulkTerminator),
        ("$1x\r\n", .badInteger),
    ])
    func refusesWhatIsNotStrictRESP(_ text: String, _ expected: RESPParseError) {
        #expect(throws: expected) { try Self.parseAll(text) }
    }

    @Test func boundsSizesAndDepth() {
        var limits = RESPParser.Limits()
        limits.maxBulkLength = 4
        limits.maxArrayLength = 2
        limits.maxDepth = 2
        limits.maxLineLength = 8
        #expect(throws: RESPParseError.bulkTooLong(5)) { try Self.parseAll("$5\r\n", limits: limits) }
        #expect(throws: RESPParseError.arrayTooLong(3)) { try Self.parseAll("*3\r\n", limits: limits) }
        #expect(throws: RESPParseError.tooDeep) { try Self.parseAll("*1\r\n*1\r\n*1\r\n:1\r\n", limits: limits) }
        #expect(throws: RESPParseError.lineTooLong) { try Self.parseAll("+123456789", limits: limits) }
        // A line just at the limit is fine.
        #expect((try? Self.parseAll("+12345678\r\n", limits: limits)) == [.simple("12345678")])
    }

    @Test func staysFailedAfterAnError() throws {
        var parser = RESPParser()
        parser.append(Array("?\r\n+OK\r\n".utf8))
        #expect(throws: RESPParseError.unknownType(63)) { try parser.next() }
        #expect(throws: RESPParseError.unknownType(63)) { try parser.next() }
    }

    @Test func commandsEncodeAsArraysOfBulkStrings() {
        let command = RESPCommand("SET", "k", "v a")
        #expect(String(decoding: command.encoded(), as: UTF8.self) == "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$3\r\nv a\r\n")
        #expect(RESPCommand("auth", "secret").name == "AUTH")
    }

    @Test func integerValueReadsIntegersAndDecimalStrings() {
        #expect(RESPValue.integer(3).integerValue == 3)
        #expect(RESPValue.bulk(Array("-12".utf8)).integerValue == -12)
        #expect(RESPValue.bulk(Array("1.5".utf8)).integerValue == nil)
        #expect(RESPValue.null.integerValue == nil)
    }
}
