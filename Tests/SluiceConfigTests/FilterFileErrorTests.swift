import Foundation
import SluiceConfig
import SluiceFilterAPI
import Testing

@Suite("Filter file: every problem, positioned")
struct FilterFileErrorTests {
    @Test func unknownKeysAtEveryLevel() {
        #expect(errorLines("""
            listeners:
              - adress: 127.0.0.1:8080
            admin:
              addres: 127.0.0.1:9090
            limit:
              max_headers: 10
            upstreams:
              up:
                endpoint: [mock://local]
                pool: { max-idle: 3 }
                tls: { verify: true, server: x }
            routes:
              - path_prefix: /
                chian: c
                chain: c
                upstream: up
            chains:
              c:
                - filter: auth
                  nmae: a
            """) == [
            "f.yaml:2:5: missing required key 'address'",
            "f.yaml:2:5: unknown key 'adress' (did you mean 'address'?)",
            "f.yaml:4:3: missing required key 'address'",
            "f.yaml:4:3: unknown key 'addres' (did you mean 'address'?)",
            "f.yaml:5:1: unknown key 'limit' (did you mean 'limits'?)",
            "f.yaml:9:5: missing required key 'endpoints'",
            "f.yaml:9:5: unknown key 'endpoint' (did you mean 'endpoints'?)",
            "f.yaml:10:13: unknown key 'max-idle' (did you mean 'max_idle'?)",
            "f.yaml:11:26: unknown key 'server' (known keys: verify, ca_file, server_name)",
            "f.yaml:14:5: unknown key 'chian' (did you mean 'chain'?)",
            "f.yaml:20:7: unknown key 'nmae' (did you mean 'name'?)",
        ])
    }

    @Test func wrongTypes() {
        #expect(errorLines("""
            listeners:
              - name: [a]
                address: 8080
            limits:
              max_headers: lots
              client_keepalive_timeout: 60
            upstreams:
              up:
                endpoints: mock://local
                balance: random
                tls: { verify: "yes" }
            routes: {}
            chains:
              c: nope
            """) == [
            "f.yaml:2:11: 'name' must be a string, got a list",
            "f.yaml:3:14: invalid address '8080': missing port; write HOST:PORT, e.g. 127.0.0.1:8080 or [::1]:8080",
            "f.yaml:5:16: 'max_headers' must be an integer, got 'lots'",
            "f.yaml:6:29: 'client_keepalive_timeout': a duration needs a unit, e.g. 30s (got 60)",
            "f.yaml:10:14: 'balance' must be one of round_robin, least_active; got 'random'",
            "f.yaml:11:20: 'verify' must be true or false, got the string \"yes\"",
            "f.yaml:12:9: 'routes' must be a list, got a mapping",
            "f.yaml:14:6: chain 'c' must be a list of filters, got 'nope'",
        ])
    }

    @Test func valuesOutOfRange() {
        #expect(errorLines("""
            listeners:
              - address: 127.0.0.1:70000
            admin:
              address: 127.0.0.1:65536
            limits:
              max_headers: 0
              max_header_bytes: 2MiB
              client_keepalive_timeout: 2h
            upstreams:
              up:
                endpoints: [http://h:0, "https://h:99999"]
                pool: { max_idle: -1, idle_timeout: 500ms }
            routes:
              - { path_prefix: /, chain: c, upstream: up }
            chains: { c: [] }
            """) == [
            "f.yaml:2:14: invalid address '127.0.0.1:70000': the port must be a number from 0 to 65535, got '70000'",
            "f.yaml:4:12: invalid address '127.0.0.1:65536': the port must be a number from 0 to 65535, got '65536'",
            "f.yaml:6:16: 'max_headers' must be between 1 and 1000, got 0",
            "f.yaml:7:21: 'max_header_bytes' must be between 1KiB and 1MiB, got 2MiB",
            "f.yaml:8:29: 'client_keepalive_timeout' must be between 0s and 1h, got 2h",
            "f.yaml:11:17: invalid endpoint 'http://h:0': the port must be a number from 1 to 65535, got '0'",
            "f.yaml:11:29: invalid endpoint 'https://h:99999': the port must be a number from 1 to 65535, got '99999'",
            "f.yaml:12:23: 'max_idle' must be between 0 and 10000, got -1",
            "f.yaml:12:41: 'idle_timeout' must be between 1s and 1h, got 500ms",
        ])
    }

    @Test func malformedAddressesURLsAndRoutes() {
        #expect(errorLines("""
            listeners:
              - address: localhost
              - address: ::1:8080
              - address: "[::1]8080"
              - address: bad_host!:80
              - address: [a, b]
            upstreams:
              up:
                endpoints:
                  - ftp://x
                  - api.example.com
                  - http://user:pw@h
                  - https://h/v1?x=1
                  - mock://local:80
                  - http://
            routes:
              - name: has space
                path_prefix: v1
                host: http://x
                chain: c
                upstream: up
                dialect: gemini
            chains: { c: [] }
            """) == [
            "f.yaml:2:14: invalid address 'localhost': missing port; write HOST:PORT, e.g. 127.0.0.1:8080 or [::1]:8080",
            "f.yaml:3:14: invalid address '::1:8080': an IPv6 address needs brackets, e.g. [::1]:8080",
            "f.yaml:4:14: invalid address '[::1]8080': unexpected '8080' after ']'",
            "f.yaml:5:14: invalid address 'bad_host!:80': 'bad_host!' is not a valid host name or IP address",
            "f.yaml:6:14: 'address' must be a string, got a list",
            "f.yaml:10:9: invalid endpoint 'ftp://x': unsupported scheme 'ftp' (use http, https or mock)",
            "f.yaml:11:9: invalid endpoint 'api.example.com': must be a URL such as http://host:port, https://host or mock://local",
            "f.yaml:12:9: invalid endpoint 'http://user:pw@h': credentials in the URL are not supported; add them with a filter",
            "f.yaml:13:9: invalid endpoint 'https://h/v1?x=1': must not have a query string ('?')",
            "f.yaml:14:9: invalid endpoint 'mock://local:80': a mock endpoint takes no port or path; settings go in the query, e.g. mock://local?ttft=200ms",
            "f.yaml:15:9: invalid endpoint 'http://': has no host",
            "f.yaml:17:11: names may contain only letters, digits, '-', '_' and '.'; got 'has space'",
            "f.yaml:18:18: 'path_prefix' must be a path starting with '/', e.g. /v1/, got 'v1'",
            "f.yaml:19:11: 'host' must be a host name such as api.example.com (without a port), got 'http://x'",
            "f.yaml:22:14: 'dialect' must be one of auto, openai, anthropic; got 'gemini'",
        ])
    }

    @Test func atLeastOneListenerRouteAndEndpoint() {
        #expect(errorLines("""
            listeners: []
            upstreams: { up: { endpoints: [] }, other: [mock://local] }
            routes: []
            chains: {}
            """) == [
            "f.yaml:1:12: at least one listener is required",
            "f.yaml:2:31: upstream 'up' has no endpoints; list at least one",
            "f.yaml:2:44: expected a mapping for upstream 'other', got a list",
            "f.yaml:3:9: at least one route is required",
        ])
        #expect(errorLines("chains: {}\n") == [
            "f.yaml:1:1: missing required key 'listeners'",
            "f.yaml:1:1: missing required key 'routes'",
        ])
        #expect(errorLines("") == [
            "f.yaml:1:1: missing required key 'listeners'",
            "f.yaml:1:1: missing required key 'routes'",
        ])
        #expect(errorLines("- a\n") == ["f.yaml:1:1: expected a mapping for the filter file, got a list"])
    }

    @Test func routesReferringToMissingUpstreamsAndChains() {
        #expect(errorLines("""
            listeners: [{ address: 127.0.0.1:0 }]
            upstreams:
              mock: { endpoints: [mock://local] }
              other: { endpoints: [mock://local] }
            routes:
              - name: chat
                path_prefix: /v1/
                chain: missing
                upstream: x
              - path_prefix: /
                chain: defualt
                upstream: mokc
            chains:
              default: []
            """) == [
            "f.yaml:8:12: route 'chat' refers to chain 'missing', which is not defined (defined: default)",
            "f.yaml:9:15: route 'chat' refers to upstream 'x', which is not defined (defined: mock, other)",
            "f.yaml:11:12: route 'route-2' refers to chain 'defualt', which is not defined (did you mean 'default'? defined: default)",
            "f.yaml:12:15: route 'route-2' refers to upstream 'mokc', which is not defined (did you mean 'mock'? defined: mock, other)",
        ])
        #expect(errorLines("""
            listeners: [{ address: 127.0.0.1:0 }]
            routes: [{ path_prefix: /, chain: c, upstream: u }]
            """) == [
            "f.yaml:2:35: route 'route-1' refers to chain 'c', which is not defined (defined: none)",
            "f.yaml:2:48: route 'route-1' refers to upstream 'u', which is not defined (defined: none)",
        ])
    }

    @Test func duplicateNamesAndAddresses() {
        #expect(errorLines("""
            listeners:
              - name: public
                address: 127.0.0.1:8080
              - name: public
                address: 127.0.0.1:8081
              - name: other
                address: 127.0.0.1:8080
            admin:
              address: 127.0.0.1:8081
            upstreams: { up: { endpoints: [mock://local] } }
            routes:
              - { name: r, path_prefix: /, chain: c, upstream: up }
              - { name: r, path_prefix: /, chain: c, upstream: up }
            chains:
              c:
                - filter: auth
                - filter: auth
                - filter: retry
                  name: auth
            """) == [
            "f.yaml:4:11: duplicate listener name 'public' (first used at line 2)",
            "f.yaml:7:14: listener 'other' uses address 127.0.0.1:8080, already used by listener 'public' (line 3)",
            "f.yaml:9:12: admin address 127.0.0.1:8081 is already used by listener 'public' (line 5)",
            "f.yaml:13:13: duplicate route name 'r' (first used at line 12)",
            "f.yaml:13:29: route 'r' matches the same path_prefix and host as route 'r' (line 12), so one of them can never be used",
            "f.yaml:17:15: duplicate filter name 'auth' in chain 'c' (first used at line 16); give one of them a different 'name'",
            "f.yaml:19:13: duplicate filter name 'auth' in chain 'c' (first used at line 16); give one of them a different 'name'",
        ])
    }

    @Test func unknownFilterTypesAndFilterConfigProblems() {
        #expect(errorLines("""
            listeners: [{ address: "127.0.0.1:0" }]
            upstreams: { up: { endpoints: [mock://local] } }
            routes: [{ path_prefix: /, chain: c, upstream: up }]
            chains:
              c:
                - filter: token_bucke
                - filter: gzip
                - filter: token_bucket
                  config: { capacity: 0, refil: 1s }
                - filter: token_bucket
                  name: second
                - filter: retry
                  config: [1]
                - name: nameless
                - just-a-word
            """) == [
            "f.yaml:6:15: unknown filter type 'token_bucke' (did you mean 'token_bucket'? known: auth, retry, token_bucket)",
            "f.yaml:7:15: unknown filter type 'gzip' (known: auth, retry, token_bucket)",
            "f.yaml:9:27: 'capacity' must be between 1 and 1000, got 0",
            "f.yaml:9:30: unknown key 'refil' (did you mean 'refill'?)",
            "f.yaml:10:7: missing required key 'capacity'",
            "f.yaml:13:15: expected a mapping for config of filter 'retry', got a list",
            "f.yaml:14:7: missing required key 'filter'",
            "f.yaml:15:7: expected a mapping for a filter entry (e.g. '- filter: token_bucket'), got 'just-a-word'",
        ])
    }

    @Test func tlsFilesThatDoNotExist() throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try writeFile(directory + "/certs/other.pem")
        let path = directory + "/sluice.yaml"
        let lines = errorLines("""
            listeners:
              - address: 127.0.0.1:0
                tls:
                  certificate: certs/missing.pem
                  key: /nonexistent/key.pem
              - address: 127.0.0.1:0
                tls:
                  certificate: certs
            upstreams:
              up:
                endpoints: [https://h]
                tls: { ca_file: ca.pem }
            routes: [{ path_prefix: /, chain: c, upstream: up }]
            chains: { c: [] }
            """, path: path)
        #expect(lines == [
            "\(path):4:20: certificate file 'certs/missing.pem' (\(directory)/certs/missing.pem) does not exist",
            "\(path):5:12: key file '/nonexistent/key.pem' does not exist",
            "\(path):8:7: missing required key 'key'",
            "\(path):8:20: certificate file 'certs' (\(directory)/certs) is a directory, not a file",
            "\(path):12:21: CA file 'ca.pem' (\(directory)/ca.pem) does not exist",
        ])
    }

    @Test func relativePathsResolveAgainstTheFilterFilesDirectory() throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try writeFile(directory + "/conf/tls/cert.pem")
        try writeFile(directory + "/conf/tls/key.pem")
        let path = directory + "/conf/sluice.yaml"
        let file = try parseFilterFile("""
            listeners:
              - address: 127.0.0.1:0
                tls: { certificate: tls/cert.pem, key: tls/key.pem }
            upstreams: { up: { endpoints: [mock://local] } }
            routes: [{ path_prefix: /, chain: c, upstream: up }]
            chains: { c: [] }
            """, path: path).get()
        #expect(file.listeners[0].tls?.certificate == directory + "/conf/tls/cert.pem")
        #expect(file.listeners[0].tls?.key == directory + "/conf/tls/key.pem")
    }

    @Test func aFileWithSeveralProblemsReportsAllSortedByPosition() {
        let yaml = """
            chains:
              main:
                - filter: nope
            routes:
              - path_prefix: /
                chain: main
                upstream: llm
            upstreams:
              llm:
                endpoints: [http://h:99999]
                pool: { idle_timeout: forever }
            listeners:
              - address: 0.0.0.0
            extra: true
            """
        let result = parseFilterFile(yaml)
        guard case .failure(let errors) = result else {
            Issue.record("expected errors")
            return
        }
        #expect(errors.errors.map { "\($0.mark.line):\($0.mark.column)" } == ["3:15", "10:17", "11:27", "13:14", "14:1"])
        #expect(errors.description == errors.errors.map(\.description).joined(separator: "\n"))
        #expect(errors.description.split(separator: "\n").count == 5)
        #expect(errors.errors.last?.description == "f.yaml:14:1: unknown key 'extra' (known keys: listeners, admin, limits, access_log, shared_state, upstreams, routes, chains)")
    }

    @Test func aYAMLSyntaxErrorIsReportedAloneWithItsPosition() {
        #expect(errorLines("""
            listeners:
              - address: 127.0.0.1:8080
                name: "unterminated
            routes: []
            """) == [
            "f.yaml:4:11: YAML syntax error: found unexpected end of stream (while scanning a quoted scalar at line 3, column 11)",
        ])
        #expect(errorLines("listeners:\n  - address: [::1]:8080\n") == [
            "f.yaml:2:15: YAML syntax error: did not find expected node content; put IPv6 addresses in quotes, e.g. \"[::1]:8080\"",
        ])
        #expect(errorPositions("listeners:\n  - address: 1\n    address: 2\n") == ["3:5"])
    }
}

extension FilterFileErrorTests {
    @Test func maxConnectionsPerIPIsReadAndCheckedWithItsPosition() throws {
        #expect(errorLines("""
            listeners: [{ address: 127.0.0.1:0 }]
            limits:
              max_connections_per_ip: -1
            upstreams: { up: { endpoints: [mock://local] } }
            routes: [{ path_prefix: /, chain: c, upstream: up }]
            chains: { c: [] }
            """) == ["f.yaml:3:27: 'max_connections_per_ip' must be between 0 and 1000000, got -1"])
        #expect(errorLines("""
            listeners: [{ address: 127.0.0.1:0 }]
            limits: { max_connections_per_ip: many }
            upstreams: { up: { endpoints: [mock://local] } }
            routes: [{ path_prefix: /, chain: c, upstream: up }]
            chains: { c: [] }
            """).count == 1)
    }

    @Test func maxConnectionsPerIPDefaultsToNoLimit() throws {
        let base = """
            listeners: [{ address: 127.0.0.1:0 }]
            upstreams: { up: { endpoints: [mock://local] } }
            routes: [{ path_prefix: /, chain: c, upstream: up }]
            chains: { c: [] }

            """
        #expect(try parseFilterFile(base, path: "f.yaml").get().limits.maxConnectionsPerIP == 0)
        #expect(try parseFilterFile(base + "limits: { max_connections_per_ip: 64 }\n", path: "f.yaml").get().limits.maxConnectionsPerIP == 64)
    }
}
