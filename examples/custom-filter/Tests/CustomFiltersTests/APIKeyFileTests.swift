import CustomFilters
import Testing

/// The keys file format, on its own.
@Suite struct APIKeyFileTests {
    @Test func commentsBlankLinesAndSeveralKeysPerClient() throws {
        let file = try APIKeyFile.parse("# KEY CLIENT\n\nk1 alice\n  k2\talice \r\nk3 bob\n", path: "keys.txt").get()
        #expect(file.clients == ["k1": "alice", "k2": "alice", "k3": "bob"])
    }

    @Test func problemsHavePositionsAndNoKeys() {
        guard case .failure(let problems) = APIKeyFile.parse("k1 alice\nk1 bob\n  k2 a b\nk3 caf\u{E9}\n", path: "keys.txt") else {
            Issue.record("parsed")
            return
        }
        #expect(problems.errors.map(\.description) == [
            "keys.txt:2:1: this key is already given at line 1",
            "keys.txt:3:3: expected 'KEY CLIENT', got 3 fields (a key or a client name cannot contain spaces)",
            "keys.txt:4:4: client name 'caf\u{E9}' may contain only letters, digits, '.', '_' and '-'",
        ])
    }
}
