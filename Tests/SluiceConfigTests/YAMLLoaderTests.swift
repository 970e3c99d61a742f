import SluiceConfig
import SluiceFilterAPI
import Testing

@Suite("YAMLLoader: YAML to positioned nodes")
struct YAMLLoaderTests {
    @Test func nodesCarryTheirPositions() throws {
        let root = try configNode("""
            # a comment
            top:
              key: value
              list:
                - one
                - "two"
              flow: {a: 1, b: [x, y]}
              empty:
            """)
        let top = try #require(root["top"])
        #expect(root.mark.description == "c.yaml:2:1")
        #expect(top.mark.description == "c.yaml:3:3")
        #expect(root.mapping?.first?.keyMark.description == "c.yaml:2:1")
        #expect(top["key"]?.mark.description == "c.yaml:3:8")
        #expect(top["key"]?.scalar == "value")
        let list = try #require(top["list"]?.sequence)
        #expect(list.map(\.mark.description) == ["c.yaml:5:7", "c.yaml:6:7"])
        #expect(list.map(\.isQuotedScalar) == [false, true])
        #expect(top["flow"]?.mark.description == "c.yaml:7:9")
        #expect(top["flow"]?["b"]?.sequence?.last?.mark.description == "c.yaml:7:23")
        #expect(top["empty"]?.isNull == true)
        #expect(top.mapping?.map(\.key) == ["key", "list", "flow", "empty"])
    }

    @Test func nullSpellingsAndQuotedNull() throws {
        let root = try configNode("a: ~\nb: null\nc: 'null'\nd: !!str null\ne: ''\n")
        #expect(root["a"]?.isNull == true)
        #expect(root["b"]?.isNull == true)
        #expect(root["c"]?.scalar == "null")
        #expect(root["d"]?.scalar == "null")
        #expect(root["d"]?.isQuotedScalar == true)
        #expect(root["e"]?.scalar == "")
    }

    @Test func scalarsKeepTheirText() throws {
        let root = try configNode("a: on\nb: 010\nc: 2024-01-01\nd: 1_000\n")
        #expect(root["a"]?.scalar == "on")
        #expect(root["b"]?.scalar == "010")
        #expect(root["c"]?.scalar == "2024-01-01")
        #expect(root["d"]?.scalar == "1_000")
    }

    @Test func aliasesAreExpanded() throws {
        let root = try configNode("base: &b {x: 1}\ncopy: *b\n")
        #expect(root["copy"]?["x"]?.scalar == "1")
    }

    @Test func windowsLineEndingsCountAsOneBreak() throws {
        let root = try configNode("a: 1\r\nb:\r\n  c: 2\r\n")
        #expect(root["b"]?["c"]?.mark.description == "c.yaml:3:6")
    }

    @Test func aliasExpansionIsBounded() {
        var text = "l0: &l0 [x, x, x, x, x, x, x, x, x, x]\n"
        for level in 1...7 {
            let previous = Array(repeating: "*l\(level - 1)", count: 10).joined(separator: ", ")
            text += "l\(level): &l\(level) [\(previous)]\n"
        }
        do {
            _ = try YAMLLoader.load(text: text, path: "bomb.yaml")
            Issue.record("expected the expansion to be refused")
        } catch {
            #expect(error.message == "the document is too large: more than 1000000 values once aliases are expanded")
        }
    }

    @Test func anEmptyDocumentIsNull() throws {
        let root = try YAMLLoader.load(text: "# nothing here\n", path: "e.yaml")
        #expect(root.isNull)
        #expect(root.mark.description == "e.yaml:1:1")
    }

    @Test(arguments: [
        ("a: [1, 2\nb: 3\n",
         "s.yaml:2:2: YAML syntax error: did not find expected ',' or ']' (while parsing a flow sequence at line 1, column 4)"),
        ("a: \"open\n",
         "s.yaml:2:1: YAML syntax error: found unexpected end of stream (while scanning a quoted scalar at line 1, column 4)"),
        ("a:\n\tb: 1\n",
         "s.yaml:2:1: YAML syntax error: found character that cannot start any token; YAML does not allow tabs for indentation, use spaces"),
        ("a: 1\n b: 2\n",
         "s.yaml:2:3: YAML syntax error: mapping values are not allowed in this context"),
        ("a: 1\n---\nb: 2\n",
         "s.yaml:2:1: a filter file holds one YAML document; found a second one ('---')"),
        ("a: *nowhere\n",
         "s.yaml:1:4: YAML syntax error: found undefined alias"),
        // No line break at the end: libyaml reports 3:1, past the text (found by the filterfile fuzz target).
        ("a: 1\nb",
         "s.yaml:2:2: YAML syntax error: could not find expected ':' (while scanning a simple key at line 2, column 1)"),
        // U+2028 and U+0085 end lines for libyaml (YAML 1.1), so they do for every position: the error
        // is on line 3, and the position names a place in the text (found by the filterfile fuzz target).
        ("a: 1\u{2028}b: 2\u{85}\tc: 3\n",
         "s.yaml:3:1: YAML syntax error: found a tab character that violates indentation (while scanning a plain scalar at line 2, column 4); YAML does not allow tabs for indentation, use spaces"),
        ("a: 1\u{2029}b",
         "s.yaml:2:2: YAML syntax error: could not find expected ':' (while scanning a simple key at line 2, column 1)"),
    ])
    func syntaxErrorsHaveAPosition(text: String, expected: String) {
        #expect(throws: ConfigError.self) { try YAMLLoader.load(text: text, path: "s.yaml") }
        do {
            _ = try YAMLLoader.load(text: text, path: "s.yaml")
        } catch {
            #expect(error.description == expected)
        }
    }

    @Test(arguments: [
        // The repeat is reported, pointing back at the first.
        ("a: 1\nb:\n  c: 1\n  d: 2\n  c: 3\n", "d.yaml:5:3: duplicate key 'c' (first defined at line 3, column 3)"),
        ("x: {k: 1, k: 2}\n", "d.yaml:1:11: duplicate key 'k' (first defined at line 1, column 5)"),
        ("a: 1\n'a': 2\n", "d.yaml:2:1: duplicate key 'a' (first defined at line 1, column 1)"),
        ("k: 1\nk: 2\nk: 3\n", "d.yaml:2:1: duplicate key 'k' (first defined at line 1, column 1)"),
        ("\"q\": 1\nq: 2\n", "d.yaml:2:1: duplicate key 'q' (first defined at line 1, column 1)"),
        ("l:\n  - {n: 1}\n  - {n: 1, n: 2}\n", "d.yaml:3:12: duplicate key 'n' (first defined at line 3, column 6)"),
        ("a: 1\n1: x\n!!str 1: y\n", "d.yaml:3:1: duplicate key '1' (first defined at line 2, column 1)"),
    ])
    func duplicateKeysAreErrors(text: String, expected: String) {
        do {
            _ = try YAMLLoader.load(text: text, path: "d.yaml")
            Issue.record("expected a duplicate key error")
        } catch {
            #expect(error.description == expected)
        }
    }

    @Test func mergeKeysAndNonTextKeysAreRefused() {
        do {
            _ = try YAMLLoader.load(text: "base: &b {x: 1}\nuse:\n  <<: *b\n", path: "m.yaml")
            Issue.record("expected an error")
        } catch {
            #expect(error.description == "m.yaml:3:3: YAML merge keys ('<<') are not supported; write the keys out")
        }
        do {
            _ = try YAMLLoader.load(text: "? [a, b]\n: 1\n", path: "m.yaml")
            Issue.record("expected an error")
        } catch {
            #expect(error.description == "m.yaml:1:3: a mapping key must be text, got a list")
        }
    }
}
