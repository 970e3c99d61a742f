import SluiceConfig
import SluiceFilterAPI
import SluiceFilters
import Testing

struct ClientKeyTests {
    private func decode(_ yaml: String) throws -> (ClientKey, [String]) {
        let node = try YAMLLoader.load(text: yaml, path: "k.yaml")
        let diagnostics = ConfigDiagnostics()
        let map = ConfigMap(node, diagnostics: diagnostics, context: "test")
        let key = ClientKey.decode(map, default: .global)
        map.finish()
        return (key, diagnostics.errors.map(\.description))
    }

    @Test func decodesEveryForm() throws {
        #expect(try decode("key: ip").0 == .clientIP)
        #expect(try decode("key: route").0 == .route)
        #expect(try decode("key: global").0 == .global)
        #expect(try decode("key: { header: X-API-Key }").0 == .header("x-api-key"))
    }

    @Test func reportsBadFormsWithPositions() throws {
        let (_, errors) = try decode("key: everyone")
        #expect(errors.count == 1)
        #expect(errors.first?.hasPrefix("k.yaml:1:6: 'key' must be ip, route, global") == true)
        let (_, missing) = try decode("key: { heder: x }")
        #expect(missing.contains { $0.contains("heder") })
    }

    @Test func headerValuesAreHashedNeverKeptInClear() {
        let a = ClientKey.hashed("sk-secret-123")
        #expect(a == ClientKey.hashed("sk-secret-123"))
        #expect(a != ClientKey.hashed("sk-secret-124"))
        #expect(!a.contains("secret"))
        #expect(a.count == 17)
    }
}
