import SluiceConfig
import SluiceFilterAPI
import Testing

@Suite("ConfigMap: typed reading with positions")
struct ConfigMapTests {
    enum Color: String, CaseIterable { case red, green, blue }

    @Test func readsEveryKindOfValue() throws {
        let node = try configNode("""
            name: alpha
            count: 42
            ratio: 0.25
            enabled: true
            timeout: 1.5s
            buffer: 64KiB
            color: green
            tags: [a, b]
            single: only
            nested: { inner: 7 }
            items: [1, 2, 3]
            """)
        let diagnostics = ConfigDiagnostics()
        let map = ConfigMap(node, diagnostics: diagnostics, context: "test")
        #expect(map.string("name") == "alpha")
        #expect(map.int("count") == 42)
        #expect(map.double("ratio") == 0.25)
        #expect(map.bool("enabled") == true)
        #expect(map.duration("timeout") == .milliseconds(1500))
        #expect(map.size("buffer") == 65536)
        #expect(map.oneOf("color", Color.self) == .green)
        #expect(map.strings("tags") == ["a", "b"])
        #expect(map.strings("single") == ["only"])
        let nested = try #require(map.map("nested"))
        #expect(nested.int("inner") == 7)
        nested.finish()
        #expect(map.list("items")?.count == 3)
        map.finish()
        #expect(diagnostics.isEmpty)
    }

    @Test func absentKeysGiveNilOrTheDefaultWithoutErrors() throws {
        let diagnostics = ConfigDiagnostics()
        let map = ConfigMap(try configNode("empty:\n"), diagnostics: diagnostics, context: "test")
        #expect(map.string("missing") == nil)
        #expect(map.int("missing", default: 5) == 5)
        #expect(map.duration("empty", default: .seconds(1)) == .seconds(1))
        #expect(map.has("empty") == false)
        #expect(map.node("empty")?.isNull == true)
        #expect(map.map("empty") == nil)
        map.finish()
        #expect(diagnostics.isEmpty)
    }

    @Test func wrongTypesAreReportedAtTheValue() throws {
        let node = try configNode("""
            count: many
            quoted: "8080"
            ratio: nan
            enabled: yes
            timeout: 30
            later: soon
            buffer: 1.5B
            color: grean
            tags: [a, [b]]
            nested: 3
            items: x
            """)
        let diagnostics = ConfigDiagnostics()
        let map = ConfigMap(node, diagnostics: diagnostics, context: "test")
        #expect(map.int("count") == nil)
        #expect(map.int("quoted", default: 1) == 1)
        #expect(map.double("ratio") == nil)
        #expect(map.bool("enabled") == nil)
        #expect(map.duration("timeout") == nil)
        #expect(map.duration("later") == nil)
        #expect(map.size("buffer") == nil)
        #expect(map.oneOf("color", Color.self) == nil)
        #expect(map.strings("tags") == nil)
        #expect(map.map("nested") == nil)
        #expect(map.list("items") == nil)
        map.finish()
        #expect(recorded(diagnostics) == [
            "c.yaml:1:8: 'count' must be an integer, got 'many'",
            "c.yaml:2:9: 'quoted' must be an integer, got the string \"8080\"",
            "c.yaml:3:8: 'ratio' must be a number, got 'nan'",
            "c.yaml:4:10: 'enabled' must be true or false, got 'yes'",
            "c.yaml:5:10: 'timeout': a duration needs a unit, e.g. 30s (got 30)",
            "c.yaml:6:8: 'later' must be a duration such as 250ms, 30s, 1.5s, 5m or 1h, got 'soon'",
            "c.yaml:7:9: 'buffer' must be a size such as 512B, 64KB, 256KiB or 10MiB, got '1.5B'",
            "c.yaml:8:8: 'color' must be one of red, green, blue; got 'grean' (did you mean 'green'?)",
            "c.yaml:9:11: 'tags' must be a list of strings; item 2 is a list",
            "c.yaml:10:9: expected a mapping for 'nested', got '3'",
            "c.yaml:11:8: 'items' must be a list, got 'x'",
        ])
    }

    @Test func outOfRangeValuesNameTheRange() throws {
        let node = try configNode("""
            port: 70000
            ratio: 1.5
            timeout: 2h
            buffer: 2MiB
            """)
        let diagnostics = ConfigDiagnostics()
        let map = ConfigMap(node, diagnostics: diagnostics, context: "test")
        #expect(map.int("port", default: 80, in: 1...65535) == 80)
        #expect(map.double("ratio", in: 0...1) == nil)
        #expect(map.duration("timeout", in: .seconds(1)...(.seconds(3600))) == nil)
        #expect(map.size("buffer", in: 1024...(1 << 20)) == nil)
        map.finish()
        #expect(recorded(diagnostics) == [
            "c.yaml:1:7: 'port' must be between 1 and 65535, got 70000",
            "c.yaml:2:8: 'ratio' must be between 0.0 and 1.0, got 1.5",
            "c.yaml:3:10: 'timeout' must be between 1s and 1h, got 2h",
            "c.yaml:4:9: 'buffer' must be between 1KiB and 1MiB, got 2MiB",
        ])
    }

    @Test func lowerBoundsAloneReadAsAtLeast() throws {
        let node = try configNode("""
            capacity: 0
            ratio: -0.5
            timeout: 0s
            buffer: 0
            fine: 3
            """)
        let diagnostics = ConfigDiagnostics()
        let map = ConfigMap(node, diagnostics: diagnostics, context: "test")
        #expect(map.int("capacity", default: 10, in: 1...) == 10)
        #expect(map.double("ratio", in: 0...) == nil)
        #expect(map.duration("timeout", in: .milliseconds(1)...) == nil)
        #expect(map.size("buffer", in: 1...) == nil)
        #expect(map.int("fine", in: 1...) == 3)
        #expect(map.int("absent", in: 1...) == nil)
        map.finish()
        #expect(recorded(diagnostics) == [
            "c.yaml:1:11: 'capacity' must be at least 1, got 0",
            "c.yaml:2:8: 'ratio' must be at least 0.0, got -0.5",
            "c.yaml:3:10: 'timeout' must be at least 1ms, got 0s",
            "c.yaml:4:9: 'buffer' must be at least 1B, got 0",
        ])
    }

    @Test func unknownKeysAreReportedAtTheKeyWithASuggestion() throws {
        let node = try configNode("""
            capacity: 3
            refil: 1s
            colour: red
            nested:
              innr: 1
            """)
        let diagnostics = ConfigDiagnostics()
        let map = ConfigMap(node, diagnostics: diagnostics, context: "test")
        _ = map.int("capacity")
        _ = map.duration("refill")
        let nested = map.map("nested")
        _ = nested?.int("inner")
        nested?.finish()
        map.finish()
        map.finish()  // a second call adds nothing
        #expect(recorded(diagnostics) == [
            "c.yaml:2:1: unknown key 'refil' (did you mean 'refill'?)",
            "c.yaml:3:1: unknown key 'colour' (known keys: capacity, refill, nested)",
            "c.yaml:5:3: unknown key 'innr' (did you mean 'inner'?)",
        ])
    }

    @Test func aMappingThatTakesNoKeysSaysSo() throws {
        let diagnostics = ConfigDiagnostics()
        ConfigMap(try configNode("x: 1"), diagnostics: diagnostics, context: "config of filter 'noop'").finish()
        #expect(recorded(diagnostics) == ["c.yaml:1:1: unknown key 'x' (config of filter 'noop' takes no keys)"])
    }

    @Test func requireReportsMissingAndEmptyKeys() throws {
        let diagnostics = ConfigDiagnostics()
        let map = ConfigMap(try configNode("first: 1\nempty:\n"), diagnostics: diagnostics, context: "test")
        map.require("first")
        map.require("absent")
        map.require("empty")
        map.finish()
        #expect(recorded(diagnostics) == [
            "c.yaml:1:1: missing required key 'absent'",
            "c.yaml:2:1: 'empty' needs a value",
        ])
    }

    @Test func aNonMappingIsReportedOnceAndReadsAsEmpty() throws {
        let diagnostics = ConfigDiagnostics()
        let root = try configNode("config: [1, 2]")
        let map = ConfigMap(try #require(root["config"]), diagnostics: diagnostics, context: "config of filter 'x'")
        #expect(map.int("capacity", default: 9) == 9)
        map.require("capacity")
        map.finish()
        #expect(recorded(diagnostics) == ["c.yaml:1:9: expected a mapping for config of filter 'x', got a list"])
    }

    @Test func copiesShareWhatWasRead() throws {
        let diagnostics = ConfigDiagnostics()
        let map = ConfigMap(try configNode("a: 1\nb: 2"), diagnostics: diagnostics, context: "test")
        func readB(_ copy: ConfigMap) { _ = copy.int("b") }
        _ = map.int("a")
        readB(map)
        map.finish()
        #expect(diagnostics.isEmpty)
    }

    @Test func allowAndReadAllEntriesMarkKeysKnown() throws {
        let diagnostics = ConfigDiagnostics()
        let map = ConfigMap(try configNode("mode: x\nheaders: {X-One: '1', X-Two: '2'}"), diagnostics: diagnostics, context: "t")
        map.allow("mode")
        let headers = try #require(map.map("headers"))
        #expect(headers.readAllEntries().map(\.key) == ["X-One", "X-Two"])
        headers.finish()
        map.finish()
        #expect(diagnostics.isEmpty)
    }

    @Test func plainScalarsReadAsStringsButQuotedNumbersAreNotIntegers() throws {
        let diagnostics = ConfigDiagnostics()
        let map = ConfigMap(try configNode("a: 123\nb: '123'\nc: true\nd: |\n  text\n"), diagnostics: diagnostics, context: "t")
        #expect(map.string("a") == "123")
        #expect(map.node("a")?.isQuotedScalar == false)
        #expect(map.string("b") == "123")
        #expect(map.node("b")?.isQuotedScalar == true)
        #expect(map.string("c") == "true")
        #expect(map.string("d") == "text\n")
        #expect(map.node("d")?.isQuotedScalar == true)
        map.finish()
        #expect(diagnostics.isEmpty)
    }

    @Test func errorAtValueOfPointsAtTheValueOrTheMapping() throws {
        let diagnostics = ConfigDiagnostics()
        let map = ConfigMap(try configNode("low: 5\nhigh: 2"), diagnostics: diagnostics, context: "t")
        map.error("'high' must not be below 'low'", atValueOf: "high")
        map.error("something is missing", atValueOf: "absent")
        #expect(recorded(diagnostics) == [
            "c.yaml:1:1: something is missing",
            "c.yaml:2:7: 'high' must not be below 'low'",
        ])
    }

    @Test func suggestionsAreOnlyOfferedForCloseNames() {
        #expect(ConfigSuggestion.closest(to: "adress", among: ["address", "name"]) == "address")
        #expect(ConfigSuggestion.closest(to: "max-idle", among: ["max_idle", "idle_timeout"]) == "max_idle")
        #expect(ConfigSuggestion.closest(to: "Name", among: ["name"]) == "name")
        #expect(ConfigSuggestion.closest(to: "tls", among: ["address", "name"]) == nil)
        #expect(ConfigSuggestion.closest(to: "name", among: ["name"]) == nil)
    }

    @Test func marksAndErrorsPrintAsPathLineColumn() {
        let mark = SourceMark(path: "a/b.yaml", line: 3, column: 7)
        #expect(mark.description == "a/b.yaml:3:7")
        #expect(ConfigError("bad", at: mark).description == "a/b.yaml:3:7: bad")
    }
}
