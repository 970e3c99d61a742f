import Foundation
import SluiceConfig
import SluiceFilters
import SluiceFilterAPI
import Testing

@Suite("Filter file: valid files")
struct FilterFileTests {
    @Test func aFullFileParsesToTheExpectedSpecs() throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try writeFile(directory + "/certs/server.pem")
        try writeFile(directory + "/certs/server.key")
        try writeFile(directory + "/ca.pem")
        let path = directory + "/sluice.yaml"
        try writeFile(path, """
            listeners:
              - name: public
                address: 0.0.0.0:8080
                tls:
                  certificate: certs/server.pem
                  key: \(directory)/certs/server.key
              - address: "[::1]:0"
            admin:
              address: :9090
            limits:
              max_header_bytes: 16KiB
              max_headers: 50
              max_request_body: 1MB
              client_keepalive_timeout: 1m30s
              client_header_timeout: 10s
              max_connections: 500
            upstreams:
              local-mock:
                balance: least_active
                endpoints:
                  - mock://local?ttft=150ms&tps=40&tokens=60
                pool: { max_idle: 8, idle_timeout: 30s, connect_timeout: 250ms }
              openai:
                endpoints:
                  - https://API.openai.com/v1/
                  - http://10.0.0.5:8000
                  - http://[fd00::5]:9000/base
                tls: { verify: false, ca_file: ca.pem, server_name: api.example.com }
            routes:
              - name: chat
                path_prefix: /v1/
                host: API.example.com
                chain: default
                upstream: local-mock
                dialect: openai
              - path_prefix: /
                chain: empty
                upstream: openai
            chains:
              default:
                - filter: token_bucket
                  name: per-client
                  config: { capacity: 20 }
                - filter: auth
              empty: []
            """)
        var checked: [String] = []
        let result = FilterFileLoader.load(path: path, knownFilterTypes: testFilterTypes) { spec, diagnostics in
            checked.append(spec.name)
            checkTestFilter(spec, diagnostics)
        }
        let file = try result.get()
        #expect(checked == ["per-client", "auth"])
        #expect(file.path == path)

        #expect(file.listeners.count == 2)
        let publicListener = file.listeners[0]
        #expect(publicListener.name == "public")
        #expect(publicListener.host == "0.0.0.0")
        #expect(publicListener.port == 8080)
        #expect(publicListener.tls?.certificate == directory + "/certs/server.pem")
        #expect(publicListener.tls?.key == directory + "/certs/server.key")
        #expect(publicListener.mark.description == "\(path):2:5")
        #expect(file.listeners[1].name == "listener-2")
        #expect(file.listeners[1].host == "::1")
        #expect(file.listeners[1].port == 0)
        #expect(file.listeners[1].tls == nil)

        #expect(file.admin?.host == "127.0.0.1")
        #expect(file.admin?.port == 9090)

        #expect(file.limits.maxHeaderBytes == 16384)
        #expect(file.limits.maxHeaders == 50)
        #expect(file.limits.maxRequestBody == 1_000_000)
        #expect(file.limits.clientKeepAliveTimeout == .seconds(90))
        #expect(file.limits.clientHeaderTimeout == .seconds(10))
        #expect(file.limits.maxConnections == 500)

        #expect(file.upstreams.map(\.name) == ["local-mock", "openai"])
        let mock = try #require(file.upstream(named: "local-mock"))
        #expect(mock.balance == .leastActive)
        #expect(mock.mark.description == "\(path):18:3")
        #expect(mock.pool.maxIdlePerEndpoint == 8)
        #expect(mock.pool.idleTimeout == .seconds(30))
        #expect(mock.pool.connectTimeout == .milliseconds(250))
        #expect(mock.tls.verify == true)
        let mockEndpoint = try #require(mock.endpoints.first)
        #expect(mockEndpoint.scheme == .mock)
        #expect(mockEndpoint.host == "local")
        #expect(mockEndpoint.port == 0)
        #expect(mockEndpoint.mockQuery == "ttft=150ms&tps=40&tokens=60")
        #expect(mockEndpoint.url == "mock://local?ttft=150ms&tps=40&tokens=60")
        #expect(mockEndpoint.mark.description == "\(path):21:9")

        let openai = try #require(file.upstream(named: "openai"))
        #expect(openai.balance == .roundRobin)
        #expect(openai.pool.maxIdlePerEndpoint == 32)
        #expect(openai.pool.idleTimeout == .seconds(60))
        #expect(openai.endpoints.map(\.scheme) == [.https, .http, .http])
        #expect(openai.endpoints.map(\.host) == ["api.openai.com", "10.0.0.5", "fd00::5"])
        #expect(openai.endpoints.map(\.port) == [443, 8000, 9000])
        #expect(openai.endpoints.map(\.basePath) == ["/v1", "", "/base"])
        #expect(openai.endpoints.map(\.mockQuery) == ["", "", ""])
        #expect(openai.tls.verify == false)
        #expect(openai.tls.caFile == directory + "/ca.pem")
        #expect(openai.tls.serverName == "api.example.com")

        #expect(file.routes.count == 2)
        let chat = file.routes[0]
        #expect(chat.name == "chat")
        #expect(chat.pathPrefix == "/v1/")
        #expect(chat.host == "api.example.com")
        #expect(chat.chain == "default")
        #expect(chat.upstream == "local-mock")
        #expect(chat.dialect == .openai)
        #expect(file.routes[1].name == "route-2")
        #expect(file.routes[1].host == nil)
        #expect(file.routes[1].dialect == .auto)

        #expect(file.chains.map(\.name) == ["default", "empty"])
        let chain = try #require(file.chain(named: "default"))
        #expect(chain.filters.map(\.type) == ["token_bucket", "auth"])
        #expect(chain.filters.map(\.name) == ["per-client", "auth"])
        #expect(chain.filters[0].config["capacity"]?.scalar == "20")
        #expect(chain.filters[0].mark.description == "\(path):41:7")
        #expect(chain.filters[1].config.isNull)
        #expect(chain.filters[1].config.mark == chain.filters[1].mark)
        #expect(file.chain(named: "empty")?.filters.isEmpty == true)
        #expect(file.chain(named: "missing") == nil)
    }

    @Test func absentSectionsTakeTheirDefaults() throws {
        let file = try parseFilterFile("""
            listeners:
              - address: 127.0.0.1:0
            upstreams:
              up: { endpoints: mock://local }
            routes:
              - { path_prefix: /, chain: c, upstream: up }
            chains:
              c:
            """).get()
        #expect(file.admin == nil)
        #expect(file.limits.maxHeaderBytes == 32768)
        #expect(file.limits.maxHeaders == 100)
        #expect(file.limits.maxRequestBody == 10 * 1024 * 1024)
        #expect(file.limits.clientKeepAliveTimeout == .seconds(60))
        #expect(file.limits.clientHeaderTimeout == .seconds(30))
        #expect(file.limits.maxConnections == 10000)
        #expect(file.upstreams[0].endpoints.count == 1)
        #expect(file.chains[0].filters.isEmpty)
    }

    @Test func listenersOnPortZeroMayShareAHost() throws {
        let file = try parseFilterFile("""
            listeners:
              - address: 127.0.0.1:0
              - address: 127.0.0.1:0
            admin: { address: "127.0.0.1:0" }
            upstreams: { up: { endpoints: [mock://local] } }
            routes: [{ path_prefix: /, chain: c, upstream: up }]
            chains: { c: [] }
            """).get()
        #expect(file.listeners.map(\.name) == ["listener-1", "listener-2"])
        #expect(file.admin?.port == 0)
    }

    @Test func theShippedDefaultFileLoadsClean() throws {
        let testFile = URL(fileURLWithPath: #filePath).resolvingSymlinksInPath()
        let path = testFile.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("filters/default.yaml").path
        let result = FilterFileLoader.load(path: path, knownFilterTypes: BuiltinFilters.registry().typeNames) { _, _ in }
        if case .failure(let errors) = result { Issue.record("\(errors)") }
        let file = try result.get()
        #expect(file.listeners.map { "\($0.host):\($0.port)" } == ["127.0.0.1:8080"])
        #expect(file.admin?.host == "127.0.0.1")
        #expect(file.admin?.port == 9901)
        #expect(file.upstream(named: "mock")?.endpoints.map(\.scheme) == [.mock])
        #expect(file.upstream(named: "mock")?.endpoints.first?.host == "local")
        #expect(file.routes.map(\.pathPrefix) == ["/"])
        #expect(file.routes.first?.chain == "default")
        #expect(file.routes.first?.upstream == "mock")
        // All eight built-in filters, in the order the README recommends.
        #expect(file.chain(named: "default")?.filters.map(\.type) == [
            "connection_manager", "token_bucket", "admission", "timeouts", "backpressure", "retry", "circuit_breaker", "drain",
        ])
    }

    @Test func aMissingFileIsOneError() {
        guard case .failure(let errors) = FilterFileLoader.load(path: "/nonexistent/sluice.yaml", knownFilterTypes: []) else {
            Issue.record("expected a failure")
            return
        }
        #expect(errors.description == "/nonexistent/sluice.yaml:1:1: no such file")
    }
}
