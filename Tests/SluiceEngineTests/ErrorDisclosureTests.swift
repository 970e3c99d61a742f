import Foundation
import SluiceFilterAPI
import SluiceHTTP
import SluiceTesting
import Testing

/// Clients learn which endpoint failed by its name in its group at most (`dead[0]`); its address
/// and the system's error go to the access log (`error_detail`) only.
@Suite(.serialized)
struct ErrorDisclosureTests {
    @Test func aConnectFailureNamesTheEndpointNotItsAddress() throws {
        let log = AccessLogFile()
        let proxy = try ProxyHarness(filterFile: TruncationTests.deadUpstreamFile, accessLog: log.spec)
        defer { proxy.stop() }
        let response = try TestClient.post(port: proxy.port, path: "/v1/chat/completions", json: TestClient.chatRequest(),
                                           headers: [("x-request-id", "dead-1")])
        #expect(response.status == 502)
        let body = response.bodyText
        #expect(body.contains(#""type":"connect_failed""#))
        #expect(body.contains("dead[0]"), "\(body)")
        #expect(!body.contains("127.0.0.1"), "\(body)")
        #expect(!body.lowercased().contains("refused"), "\(body)")
        let entry = try log.entry(requestID: "dead-1", afterLines: 1)
        let detail = try #require(entry["error_detail"] as? String)
        #expect(detail.contains("http://127.0.0.1:1"))
        #expect(detail.lowercased().contains("refused"), "\(detail)")
    }

    @Test func aStreamCutMidwayTellsTheClientNoSystemError() throws {
        let log = AccessLogFile()
        let proxy = try ProxyHarness(filterFile: ProxyHarness.filterFile(), accessLog: log.spec)
        defer { proxy.stop() }
        let response = try TestClient.post(port: proxy.port, path: "/v1/chat/completions", json: TestClient.chatRequest(),
                                           headers: [("x-mock-reset-after", "2"), ("x-request-id", "reset-1")])
        #expect(response.ending == .truncated)
        let last = try #require(response.sseEvents.last)
        let error = try #require(try AccessLogFile.json(last.data)["error"] as? [String: Any])
        #expect(error["message"] as? String == "the upstream stream ended early")
        let entry = try log.entry(requestID: "reset-1", afterLines: 1)
        #expect((entry["error_detail"] as? String)?.hasPrefix("http://127.0.0.1:\(proxy.upstream.port): ") == true)
    }
}
