import Foundation
import SluiceConfig
import SluiceFilterAPI
import Testing

@Suite("Filter file: shared_state")
struct SharedStateConfigTests {
    static func file(_ sharedState: String, filterConfig: String = "{ capacity: 5 }") -> String {
        """
        listeners:
          - address: 127.0.0.1:0
        \(sharedState)
        upstreams:
          up: { endpoints: [mock://local] }
        routes:
          - { path_prefix: /, chain: c, upstream: up }
        chains:
          c:
            - filter: token_bucket
              config: \(filterConfig)
        """
    }

    @Test func readsEverySetting() throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try writeFile(directory + "/redis-password", "s3cret\n")
        let text = Self.file("""
            shared_state:
              url: rediss://Redis.Example:6380/2
              verify: false
              server_name: redis.internal
              username: sluice
              password_file: redis-password
              key_secret: hash-me
              key_prefix: prod
              timeout: 20ms
              connect_timeout: 2s
              lease_ttl: 10s
              on_failure: closed
            """)
        let file = try parseFilterFile(text, path: directory + "/f.yaml").get()
        let spec = try #require(file.sharedState)
        #expect(spec.tls && !spec.verify && spec.host == "redis.example" && spec.port == 6380 && spec.database == 2)
        #expect(spec.serverName == "redis.internal" && spec.username == "sluice")
        #expect(spec.password == "s3cret" && spec.passwordSource == "file:\(directory)/redis-password")
        #expect(spec.keySecret == "hash-me" && spec.keyPrefix == "prod")
        #expect(spec.timeout == .milliseconds(20) && spec.connectTimeout == .seconds(2) && spec.leaseTTL == .seconds(10))
        #expect(spec.onFailure == .closed)
        #expect(spec.displayURL == "rediss://redis.example:6380/2")
    }

    @Test func defaultsAndThePasswordFromTheEnvironment() throws {
        setenv("SLUICE_TEST_REDIS_PASSWORD", "from-env", 1)
        defer { unsetenv("SLUICE_TEST_REDIS_PASSWORD") }
        let file = try parseFilterFile(Self.file("""
            shared_state: { url: "redis://10.0.0.5", password_env: SLUICE_TEST_REDIS_PASSWORD }
            """)).get()
        let spec = try #require(file.sharedState)
        #expect(!spec.tls && spec.port == 6379 && spec.database == 0 && spec.keyPrefix == "sluice")
        #expect(spec.password == "from-env" && spec.passwordSource == "env:SLUICE_TEST_REDIS_PASSWORD")
        #expect(spec.timeout == .milliseconds(50) && spec.onFailure == .local && spec.leaseTTL == .seconds(30))
        #expect(try parseFilterFile(Self.file("")).get().sharedState == nil)
    }

    @Test func everyProblemIsPositioned() {
        #expect(errorLines(Self.file("""
            shared_state:
              url: http://redis:6379
              password: a
              password_env: B
              ca_file: ca.pem
              key_prefix: "a {b}"
              timeout: 0ms
              on_failure: maybe
            """)) == [
            "f.yaml:4:8: invalid Redis URL 'http://redis:6379': unsupported scheme 'http' (use redis or rediss)",
            "f.yaml:6:17: give only one of password, password_env",
            "f.yaml:7:12: CA file 'ca.pem' (\(FileManager.default.currentDirectoryPath)/ca.pem) does not exist",
            "f.yaml:7:12: 'ca_file' applies to rediss:// (TLS) only",
            "f.yaml:8:15: 'key_prefix' must be non-empty, without spaces or braces (braces make Redis Cluster hash tags)",
            "f.yaml:9:12: 'timeout' must be between 1ms and 10s, got 0ms",
            "f.yaml:10:15: 'on_failure' must be one of local, open, closed; got 'maybe'",
        ])
        #expect(errorLines(Self.file("shared_state: { url: \"redis://u:p@h:1/0\" }")).first?
            .contains("credentials in the URL are not supported") == true)
        #expect(errorLines(Self.file("shared_state: { url: \"redis://h/x\" }")).first?
            .contains("the path must be a database number") == true)
        #expect(errorLines(Self.file("shared_state: { url: \"redis://h\", password_env: SLUICE_SURELY_UNSET_VARIABLE }")) == [
            "f.yaml:3:49: the environment variable SLUICE_SURELY_UNSET_VARIABLE is not set (or is empty)",
        ])
    }

    @Test func sharedTrueNeedsASharedStateSection() {
        let lines = errorLines(Self.file("", filterConfig: "{ capacity: 5, shared: true }"))
        #expect(lines.contains(
            "f.yaml:11:38: 'shared: true' needs a top-level 'shared_state:' section naming the Redis server to share through"))
    }
}
