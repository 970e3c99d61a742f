import Foundation
import Logging
import SluiceTesting
import Synchronization
import Testing

@Suite("shared_state in the engine: reloads, admin, metrics, TLS", .serialized,
       .enabled(if: RedisTestServer.isInstalled, "redis-server is not installed"))
struct SharedStateEngineTests {
    static let bucket = """
        - filter: token_bucket
          config: { capacity: 3, refill_per_second: 0, shared: true }
        """

    @Test func aReloadKeepsTheSharedStateAndANewPrefixStartsFreshAndSaysSo() throws {
        let redis = try RedisTestServer()
        let log = CapturedLog()
        let path = ProxyHarness.temporaryFilterFilePath()
        let text = SharedFixture.filterFile(chain: Self.bucket, redis: redis)
        let proxy = try ProxyHarness(filterFile: text, path: path, options: { $0.logger = log.logger })
        defer { proxy.stop() }
        #expect(SharedFixture.status(proxy.port) == 200)
        #expect(SharedFixture.status(proxy.port) == 200)
        #expect(try proxy.reload(filterFile: text + "# touched\n").get() == 2)
        #expect(SharedFixture.status(proxy.port) == 200)
        #expect(SharedFixture.status(proxy.port) == 429)
        #expect(try proxy.reload(filterFile: SharedFixture.filterFile(chain: Self.bucket, redis: redis, settings: "key_prefix: fresh")).get() == 3)
        #expect(log.lines.contains { $0.contains("key_prefix changed") })
        #expect(SharedFixture.status(proxy.port) == 200)
        #expect(try redis.command("EXISTS", "fresh:tb:{main}:token_bucket:127.0.0.1").integerValue == 1)
    }

    @Test func adminChainShowsTheSectionWithoutItsSecretsAndMetricsShowTheConnections() throws {
        let redis = try RedisTestServer(arguments: ["--requirepass", "pa55-w0rd"])
        let text = SharedFixture.filterFile(chain: Self.bucket, redis: redis,
                                            settings: "password: pa55-w0rd\nkey_secret: hash-s3cret\non_failure: closed")
        let proxy = try ProxyHarness(filterFile: text)
        defer { proxy.stop() }
        #expect(SharedFixture.status(proxy.port, headers: [("authorization", "Bearer sk-live-123")]) == 200)
        let chain = try proxy.admin("GET", "/admin/chain").bodyText
        #expect(chain.contains("\"shared_state\":{\"url\":\"redis://127.0.0.1:\(redis.port)/0\""))
        #expect(chain.contains("\"password\":\"<redacted>\",\"password_source\":\"inline\",\"key_secret\":\"<redacted>\""))
        #expect(chain.contains("\"on_failure\":\"closed\""))
        #expect(!chain.contains("pa55-w0rd") && !chain.contains("hash-s3cret"))
        let m = try proxy.metrics(within: .seconds(3)) { $0.value("sluice_shared_state_connected") == 2 }
        #expect(m.value("sluice_shared_state_connected", ["worker": "0"]) == 1)
        #expect(m.value("sluice_shared_state_connected", ["worker": "1"]) == 1)
        #expect(m.value("sluice_shared_state_commands_total", ["result": "ok"]) >= 1)
        #expect(m.value("sluice_shared_state_command_seconds_count") >= 1)
        #expect(!m.text.contains("pa55-w0rd"))
    }

    @Test func headerKeysReachRedisOnlyAsTheKeyedHashSharedByEveryInstance() throws {
        let redis = try RedisTestServer()
        let text = SharedFixture.filterFile(chain: """
            - filter: token_bucket
              config: { capacity: 2, refill_per_second: 0, key: { header: authorization }, shared: true }
            """, redis: redis, settings: "key_secret: the-secret")
        let proxies = try SharedFixture.proxies(2, text)
        defer { proxies.forEach { $0.stop() } }
        let key = [("authorization", "Bearer sk-live-abc")]
        #expect(SharedFixture.status(proxies[0].port, headers: key) == 200)
        #expect(SharedFixture.status(proxies[1].port, headers: key) == 200)
        #expect(SharedFixture.status(proxies[0].port, headers: key) == 429)
        #expect(SharedFixture.status(proxies[1].port, headers: [("authorization", "Bearer other")]) == 200)
        let keys = try redis.command("KEYS", "*")
        guard case .array(let names) = keys else { Issue.record("KEYS answered \(keys)"); return }
        let texts = names.compactMap(\.text)
        #expect(texts.count == 2)
        #expect(texts.allSatisfy { $0.hasPrefix("sluice:tb:{main}:token_bucket:k") && !$0.contains("sk-live") })
    }

    @Test func sharesThroughRedisOverTLSAndRefusesAServerItCannotVerify() throws {
        let certs = try TestCertificates.generate()
        defer { certs.remove() }
        let tlsPort = try RedisTestServer.freeLoopbackPort()
        let redis = try RedisTestServer(arguments: [
            "--tls-port", String(tlsPort), "--tls-cert-file", certs.serverCertificate, "--tls-key-file", certs.serverKey,
            "--tls-ca-cert-file", certs.caCertificate, "--tls-auth-clients", "no",
        ])
        func file(ca: String) -> String {
            ProxyHarness.filterFile(chain: Self.bucket) + """
            shared_state:
              url: rediss://127.0.0.1:\(tlsPort)/0
              server_name: localhost
              ca_file: \(ca)
              timeout: 200ms
              on_failure: closed

            """
        }
        let trusted = try ProxyHarness(filterFile: file(ca: certs.caCertificate))
        defer { trusted.stop() }
        #expect(SharedFixture.status(trusted.port) == 200)
        #expect(try redis.command("EXISTS", "sluice:tb:{main}:token_bucket:127.0.0.1").integerValue == 1)
        let untrusted = try ProxyHarness(filterFile: file(ca: certs.otherCACertificate))
        defer { untrusted.stop() }
        #expect(SharedFixture.status(untrusted.port) == 503)
        #expect(try untrusted.metrics().value("sluice_shared_state_connected") == 0)
    }
}
