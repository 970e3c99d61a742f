import Foundation
import SluiceConfig
import SluiceFilterAPI
import SluiceFilters
import Testing

/// The example filter files in the repository's `filters/` directory. Each must load without
/// errors the way `sluice check` loads it: with the built-in filter types registered and every
/// filter's config decoded by its factory. A few assertions pin the setups the files' comments
/// describe.
@Suite("Filter file: the examples in filters/")
struct ExampleFilterFileTests {
    /// `filters/` at the repository root, found from this file's path
    /// (`<root>/Tests/SluiceConfigTests/ExampleFilterFileTests.swift`).
    static let filtersDirectory: String = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent()  // SluiceConfigTests
        .deletingLastPathComponent()  // Tests
        .deletingLastPathComponent()  // the repository root
        .appendingPathComponent("filters")
        .path

    /// The names of every `*.yaml` file in `filters/`, sorted; empty when the directory cannot be
    /// read (`examplesAreFound` then fails).
    static let exampleFileNames: [String] = {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: filtersDirectory)) ?? []
        return names.filter { $0.hasSuffix(".yaml") }.sorted()
    }()

    static let registry = BuiltinFilters.registry()

    /// Loads `filters/<name>` as `sluice check` does (`FilterFileLoading.load` in SluiceEngine).
    static func load(_ name: String) -> Result<FilterFile, FilterFileErrors> {
        FilterFileLoader.load(path: filtersDirectory + "/" + name, knownFilterTypes: registry.typeNames) { spec, diagnostics in
            guard let factory = registry.factory(for: spec.type) else { return }
            let config = ConfigMap(spec.config, diagnostics: diagnostics, context: "filter '\(spec.name)'")
            do {
                _ = try factory(FilterSetup(type: spec.type, name: spec.name, chain: "", config: config, previous: nil,
                                            clock: SystemClock(), workers: 1))
                config.finish()
            } catch {
                diagnostics.error("\(error)", at: spec.mark)
            }
        }
    }

    /// The file, or a recorded issue listing its errors.
    static func loaded(_ name: String) throws -> FilterFile {
        switch load(name) {
        case .success(let file):
            return file
        case .failure(let errors):
            Issue.record("filters/\(name) has errors:\n\(errors)")
            throw errors
        }
    }

    /// The route a request goes to: the first, in file order, whose host (when set) and path
    /// prefix match. The same rule as the engine's `ChainVersion.route(for:)`; the comments in
    /// the files rely on it.
    static func route(in file: FilterFile, path: String, host: String? = nil) -> String? {
        file.routes.first { route in
            if let wanted = route.host, host != wanted { return false }
            return path.hasPrefix(route.pathPrefix)
        }?.name
    }

    @Test func examplesAreFound() {
        for name in ["default.yaml", "openai-compatible.yaml", "local-backends.yaml", "shared-limits.yaml"] {
            #expect(Self.exampleFileNames.contains(name), "filters/\(name) not found in \(Self.filtersDirectory)")
        }
    }

    @Test(arguments: exampleFileNames)
    func exampleFileLoadsWithoutErrors(_ name: String) {
        if case .failure(let errors) = Self.load(name) {
            Issue.record("filters/\(name) has errors:\n\(errors)")
        }
    }

    @Test func sharedLimitsFileSharesEveryLimitingFilterThroughALocalRedis() throws {
        let file = try Self.loaded("shared-limits.yaml")
        let spec = try #require(file.sharedState)
        #expect(spec.displayURL == "redis://127.0.0.1:6379/0" && spec.onFailure == .local && spec.password == nil)
        let filters = try #require(file.chain(named: "shared")).filters
        let shared = filters.filter { $0.config["shared"]?.scalar == "true" }.map(\.type)
        #expect(shared == ["connection_manager", "token_bucket", "circuit_breaker"])
        // Batch mode for the tokens bucket and the admission budget.
        let batched = filters.filter { $0.config["shared"]?.mapping != nil }.map(\.type)
        #expect(batched == ["token_bucket", "admission"])
    }

    @Test func openAICompatibleFileReachesTheAPIOverVerifiedTLS() throws {
        let file = try Self.loaded("openai-compatible.yaml")

        #expect(file.listeners.map { "\($0.host):\($0.port)" } == ["127.0.0.1:8080"])
        #expect(file.listeners.allSatisfy { $0.tls == nil })
        #expect(file.admin.map { "\($0.host):\($0.port)" } == "127.0.0.1:9901")

        let group = try #require(file.upstream(named: "openai"))
        let endpoint = try #require(group.endpoints.first)
        #expect(group.endpoints.count == 1)
        #expect(endpoint.scheme == .https)
        #expect(endpoint.host == "api.openai.com")
        #expect(endpoint.port == 443)
        // Clients send /v1/... themselves; a base path would double it.
        #expect(endpoint.basePath == "")
        #expect(group.tls.verify == true)
        #expect(group.tls.caFile == nil)
        #expect(group.tls.serverName == nil)

        let route = try #require(file.routes.first)
        #expect(file.routes.count == 1)
        #expect(route.pathPrefix == "/v1/")
        #expect(route.host == nil)
        #expect(route.upstream == "openai")
        #expect(route.dialect == .openai)

        // No filter types are registered yet, so every chain is empty.
        #expect(file.chains.allSatisfy { $0.filters.isEmpty })
        #expect(file.limits.maxRequestBody == 50 * 1024 * 1024)
        #expect(file.limits.maxConnectionsPerIP == 500)
    }

    @Test func localBackendsFileBalancesVLLMAndRoutesOllamaByHost() throws {
        let file = try Self.loaded("local-backends.yaml")

        let vllm = try #require(file.upstream(named: "vllm"))
        #expect(vllm.balance == .leastActive)
        #expect(vllm.endpoints.count == 2)
        #expect(vllm.endpoints.map(\.scheme) == [.http, .http])
        #expect(vllm.endpoints.map(\.port) == [8001, 8002])
        // Below vLLM's 5s keep-alive, so Sluice closes idle connections before vLLM does.
        #expect(vllm.pool.idleTimeout < .seconds(5))

        let ollama = try #require(file.upstream(named: "ollama"))
        #expect(ollama.endpoints.map(\.url) == ["http://127.0.0.1:11434"])
        #expect(ollama.endpoints.allSatisfy { $0.basePath.isEmpty })

        // Where requests go, as the file's comments promise.
        #expect(Self.route(in: file, path: "/v1/chat/completions") == "vllm")
        #expect(Self.route(in: file, path: "/v1/models") == "vllm")
        #expect(Self.route(in: file, path: "/v1/messages") == "vllm-anthropic")
        #expect(Self.route(in: file, path: "/api/chat") == "ollama-native")
        #expect(Self.route(in: file, path: "/v1/chat/completions", host: "ollama.localhost") == "ollama")
        #expect(Self.route(in: file, path: "/v1/messages", host: "ollama.localhost") == "ollama")
        #expect(Self.route(in: file, path: "/health") == nil)

        let dialects = Dictionary(uniqueKeysWithValues: file.routes.map { ($0.name, $0.dialect) })
        #expect(dialects == ["ollama": .auto, "ollama-native": .auto, "vllm-anthropic": .anthropic, "vllm": .openai])
        let upstreams = Dictionary(uniqueKeysWithValues: file.routes.map { ($0.name, $0.upstream) })
        #expect(upstreams == ["ollama": "ollama", "ollama-native": "ollama", "vllm-anthropic": "vllm", "vllm": "vllm"])
        #expect(file.chains.allSatisfy { $0.filters.isEmpty })
    }
}
