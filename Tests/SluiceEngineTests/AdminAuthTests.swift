import Foundation
import SluiceConfig
import SluiceEngine
import SluiceFilters
import SluiceTesting
import Testing

/// `admin.auth`: the admin listener asks for a bearer token or basic credentials on every path except
/// the open ones, and the file states them with positions when they are wrong.
@Suite(.serialized)
struct AdminAuthTests {
    private static func fileWithAuth(_ auth: String) -> String {
        ProxyHarness.filterFile().replacingOccurrences(
            of: "admin:\n  address: 127.0.0.1:0\n", with: "admin:\n  address: 127.0.0.1:0\n  auth:\n\(auth)\n")
    }

    @Test func aBearerTokenFromTheEnvironmentGuardsEveryAdminPathButTheOpenOnes() throws {
        setenv("SLUICE_TEST_ADMIN_TOKEN", "s3cret-token", 1)
        defer { unsetenv("SLUICE_TEST_ADMIN_TOKEN") }
        let proxy = try ProxyHarness(filterFile: Self.fileWithAuth("    bearer_token_env: SLUICE_TEST_ADMIN_TOKEN"))
        defer { proxy.stop() }
        for path in ["/metrics", "/admin/streams", "/admin/chain"] {
            let refused = try proxy.admin("GET", path)
            #expect(refused.status == 401, "\(path)")
            #expect(refused.head.headers["www-authenticate"] == "Bearer realm=\"sluice-admin\"")
            #expect(try proxy.admin("GET", path, authorization: "Bearer wrong").status == 401)
            #expect(try proxy.admin("GET", path, authorization: "Bearer s3cret-tokenX").status == 401)
            #expect(try proxy.admin("GET", path, authorization: "Basic czNjcmV0LXRva2Vu").status == 401)
            #expect(try proxy.admin("GET", path, authorization: "Bearer s3cret-token").status == 200, "\(path)")
            #expect(try proxy.admin("GET", path, authorization: "bearer  s3cret-token").status == 200, "\(path)")
        }
        // Unauthenticated reload is what the issue was about.
        #expect(try proxy.admin("POST", "/admin/reload").status == 401)
        // Probes carry no secrets: /healthz and /readyz stay open by default.
        #expect(try proxy.admin("GET", "/healthz").status == 200)
        #expect(try proxy.admin("GET", "/readyz").status == 200)
        // The token never shows in the chain it guards.
        let chain = try proxy.admin("GET", "/admin/chain", authorization: "Bearer s3cret-token").bodyText
        #expect(!chain.contains("s3cret-token"))
    }

    @Test func basicAuthWithOpenPathsChosenByTheFile() throws {
        let proxy = try ProxyHarness(filterFile: Self.fileWithAuth("""
                username: ops
                password: hunter2
                open_paths: [/metrics]
            """))
        defer { proxy.stop() }
        let good = "Basic " + Data("ops:hunter2".utf8).base64EncodedString()
        let wrong = "Basic " + Data("ops:hunter3".utf8).base64EncodedString()
        let healthz = try proxy.admin("GET", "/healthz")
        #expect(healthz.status == 401)
        #expect(healthz.head.headers["www-authenticate"]?.hasPrefix("Basic realm=") == true)
        #expect(try proxy.admin("GET", "/healthz", authorization: wrong).status == 401)
        #expect(try proxy.admin("GET", "/healthz", authorization: good).status == 200)
        #expect(try proxy.admin("GET", "/metrics").status == 200)
    }

    @Test func authProblemsArePositioned() throws {
        let registry = BuiltinFilters.registry()
        func problems(_ auth: String) -> [String] {
            let text = Self.fileWithAuth(auth).replacingOccurrences(of: "{{upstream}}", with: "http://127.0.0.1:1")
            switch FilterFileLoading.parse(text: text, path: "f.yaml", registry: registry) {
            case .success: return []
            case .failure(let errors): return errors.errors.map(\.description)
            }
        }
        let unset = problems("    bearer_token_env: SLUICE_TEST_SURELY_UNSET")
        #expect(unset.count == 1)
        #expect(unset.first?.hasPrefix("f.yaml:7:23: ") == true, "\(unset)")
        #expect(unset.first?.contains("SLUICE_TEST_SURELY_UNSET is not set") == true)
        let both = problems("    bearer_token: a\n    username: ops\n    password: b")
        #expect(both.first?.contains("not both") == true, "\(both)")
        let noPassword = problems("    username: ops")
        #expect(noPassword.first?.contains("password") == true, "\(noPassword)")
        let nothing = problems("    open_paths: [/healthz]")
        #expect(nothing.first?.contains("auth needs bearer_token") == true, "\(nothing)")
        let relative = problems("    bearer_token: a\n    open_paths: [healthz]")
        #expect(relative.first?.contains("starting with '/'") == true, "\(relative)")
    }
}
