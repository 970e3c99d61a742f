import Foundation
import SluiceFilterAPI
import SluiceHTTP
import SluiceMock
import SluiceTesting
import Testing

/// TLS on both sides, over real loopback sockets, with certificates made for the run by
/// `TestCertificates`: a TLS listener (clients speak TLS to Sluice, checked with `curl`), and
/// `https` upstreams (Sluice speaks TLS to another Sluice whose listener is TLS).
@Suite(.serialized)
final class TLSTests {
    let certs: TestCertificates

    init() throws {
        certs = try TestCertificates.generate()
    }

    deinit { certs.remove() }

    // MARK: - Downstream: TLS termination

    @Test func clientStreamsOverTLSToATLSListener() throws {
        let proxy = try ProxyHarness(filterFile: tlsListenerFile())
        defer { proxy.stop() }

        let result = try curl(port: proxy.port, caFile: certs.caCertificate)
        #expect(result.exitStatus == 0, "curl failed: \(result.errors)")
        #expect(result.statusLine.hasPrefix("HTTP/1.1 200"), "\(result.statusLine)")
        #expect(result.headers["content-type"] == "text/event-stream")
        let data = result.sseData
        #expect(data.last == "[DONE]")
        #expect(data.filter { $0.contains("\"content\":\" ") }.count == 10)

        // The upstream is told the client came over TLS.
        let seen = try #require(proxy.upstream.journal.entries.first)
        #expect(seen.head.headers["x-forwarded-proto"] == "https")
        #expect(seen.bodyText == TestClient.chatRequest())
    }

    @Test func tlsListenerPresentsTheConfiguredCertificate() throws {
        let proxy = try ProxyHarness(filterFile: tlsListenerFile())
        defer { proxy.stop() }
        // A client trusting only the unrelated CA refuses the handshake (curl: 60, peer
        // certificate cannot be authenticated), so the proxy did present the CA-signed certificate.
        let result = try curl(port: proxy.port, caFile: certs.otherCACertificate)
        #expect(result.exitStatus == 60, "curl: \(result.exitStatus) \(result.errors)")
        #expect(proxy.upstream.journal.entries.isEmpty)
    }

    @Test func plainHTTPToATLSListenerGetsNoResponse() throws {
        let proxy = try ProxyHarness(filterFile: tlsListenerFile())
        defer { proxy.stop() }

        let client = try TestClient(port: proxy.port)
        defer { client.close() }
        let head = HTTPRequestHead(method: "POST", target: "/v1/chat/completions",
                                   headers: HTTPHeaders([("host", "127.0.0.1:\(proxy.port)"), ("content-type", "application/json")]))
        try client.send(head, body: Array(TestClient.chatRequest().utf8))
        // The proxy takes the bytes for a broken handshake and closes; at most a TLS alert comes back.
        let answer = try client.readUntilClosed(timeout: .seconds(5))
        #expect(!String(decoding: answer, as: UTF8.self).hasPrefix("HTTP/"), "got \(String(decoding: answer, as: UTF8.self))")
        #expect(answer.first.map { $0 == 0x15 } ?? true, "expected nothing or a TLS alert record, got \(answer.prefix(16))")
        #expect(proxy.upstream.journal.entries.isEmpty)

        // The listener still serves TLS clients afterwards.
        let result = try curl(port: proxy.port, caFile: certs.caCertificate)
        #expect(result.exitStatus == 0, "curl failed: \(result.errors)")
        #expect(result.sseData.last == "[DONE]")
        #expect(proxy.upstream.journal.entries.count == 1)
    }

    // MARK: - Upstream: https endpoints

    @Test func streamsThroughAnHTTPSUpstream() throws {
        let back = try ProxyHarness(filterFile: tlsListenerFile())
        defer { back.stop() }
        let front = try ProxyHarness(filterFile: httpsUpstreamFile(endpoint: "https://localhost:\(back.port)",
                                                                   tls: ["ca_file": certs.caCertificate]))
        defer { front.stop() }

        // Twice: the second request may ride the pooled TLS connection.
        for round in 1...2 {
            let response = try TestClient.post(port: front.port, path: "/v1/chat/completions", json: TestClient.chatRequest())
            #expect(response.status == 200, "round \(round): \(response.bodyText)")
            #expect(response.ending == .complete)
            let data = response.sseEvents.map(\.data)
            #expect(data.last == "[DONE]")
            #expect(data.filter { $0.contains("\"content\":\" ") }.count == 10)
        }

        let seen = back.upstream.journal.entries
        #expect(seen.count == 2)
        #expect(seen.first?.head.target == "/v1/chat/completions")
        #expect(seen.first?.bodyText == TestClient.chatRequest())
        // The back proxy took the front one for a TLS client.
        #expect(seen.first?.head.headers["x-forwarded-proto"] == "https")
        #expect(front.upstream.journal.entries.isEmpty)
    }

    @Test func httpsUpstreamByIPAddressIsVerifiedAgainstTheIPSubjectAltName() throws {
        let back = try ProxyHarness(filterFile: tlsListenerFile())
        defer { back.stop() }
        let front = try ProxyHarness(filterFile: httpsUpstreamFile(endpoint: "https://127.0.0.1:\(back.port)",
                                                                   tls: ["ca_file": certs.caCertificate]))
        defer { front.stop() }

        let response = try TestClient.post(port: front.port, path: "/v1/chat/completions", json: TestClient.chatRequest())
        #expect(response.status == 200, "\(response.bodyText)")
        #expect(response.ending == .complete)
        #expect(response.sseEvents.last?.data == "[DONE]")
        #expect(back.upstream.journal.entries.count == 1)
    }

    @Test func upstreamCertificateFromAnUnknownCAIsRefused() throws {
        let back = try ProxyHarness(filterFile: tlsListenerFile())
        defer { back.stop() }
        let log = AccessLogFile()
        let front = try ProxyHarness(filterFile: httpsUpstreamFile(endpoint: "https://localhost:\(back.port)",
                                                                   tls: ["ca_file": certs.otherCACertificate]),
                                     accessLog: log.spec)
        defer { front.stop() }

        let response = try TestClient.post(port: front.port, path: "/v1/chat/completions", json: TestClient.chatRequest())
        expectTLSFailure(response, log: log)
        #expect(back.upstream.journal.entries.isEmpty)
    }

    @Test func upstreamCertificateForAnotherNameIsRefused() throws {
        let back = try ProxyHarness(filterFile: tlsListenerFile())
        defer { back.stop() }
        let log = AccessLogFile()
        let front = try ProxyHarness(filterFile: httpsUpstreamFile(endpoint: "https://localhost:\(back.port)",
                                                                   tls: ["ca_file": certs.caCertificate,
                                                                         "server_name": "wrong.example"]),
                                     accessLog: log.spec)
        defer { front.stop() }

        let response = try TestClient.post(port: front.port, path: "/v1/chat/completions", json: TestClient.chatRequest())
        expectTLSFailure(response, log: log)
        #expect(back.upstream.journal.entries.isEmpty)
    }

    @Test func verifyFalseAcceptsAnUntrustedCertificate() throws {
        let back = try ProxyHarness(filterFile: tlsListenerFile())
        defer { back.stop() }
        let front = try ProxyHarness(filterFile: httpsUpstreamFile(endpoint: "https://localhost:\(back.port)",
                                                                   tls: ["ca_file": certs.otherCACertificate, "verify": "false"]))
        defer { front.stop() }

        let response = try TestClient.post(port: front.port, path: "/v1/chat/completions", json: TestClient.chatRequest())
        #expect(response.status == 200, "\(response.bodyText)")
        #expect(response.ending == .complete)
        #expect(response.sseEvents.last?.data == "[DONE]")
        #expect(back.upstream.journal.entries.count == 1)
    }

    // MARK: - Helpers

    /// A 502 with Sluice's JSON error naming the failed TLS handshake.
    private func expectTLSFailure(_ response: TestResponse, log: AccessLogFile, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(response.status == 502, "\(response.bodyText)", sourceLocation: sourceLocation)
        #expect(response.ending == .complete, sourceLocation: sourceLocation)
        #expect(response.head.headers["content-type"] == "application/json", sourceLocation: sourceLocation)
        let body = response.bodyText
        #expect(body.hasPrefix(#"{"error":{"type":"connect_failed""#), "\(body)", sourceLocation: sourceLocation)
        // The reason is the operator's (issue 12, item 12): it goes to the access log only.
        #expect(!body.contains("TLS"), "\(body)", sourceLocation: sourceLocation)
        let detail = log.lines(count: 1).first.flatMap { try? AccessLogFile.json($0)["error_detail"] as? String }
        #expect(detail?.contains("TLS: certificate verify failed") == true, "\(detail ?? "no access log line")",
                sourceLocation: sourceLocation)
    }

    /// One TLS listener on 127.0.0.1:0 presenting the CA-signed `localhost` certificate, routing
    /// everything to the harness's fake upstream.
    private func tlsListenerFile() -> String {
        """
        listeners:
          - name: secure
            address: 127.0.0.1:0
            tls:
              certificate: \(JSONText.quoted(certs.serverCertificate))
              key: \(JSONText.quoted(certs.serverKey))
        upstreams:
          fake:
            endpoints: ["{{upstream}}"]
        routes:
          - name: all
            path_prefix: /
            chain: main
            upstream: fake
        chains:
          main: []

        """
    }

    /// A plain listener routing everything to one `https` endpoint with the given `tls:` settings.
    private func httpsUpstreamFile(endpoint: String, tls: KeyValuePairs<String, String>) -> String {
        let settings = tls.map { key, value in
            "      \(key): \(key == "verify" ? value : JSONText.quoted(value))"
        }.joined(separator: "\n")
        return """
            listeners:
              - name: plain
                address: 127.0.0.1:0
            upstreams:
              secure:
                endpoints: [\(JSONText.quoted(endpoint))]
                tls:
            \(settings)
            routes:
              - name: all
                path_prefix: /
                chain: main
                upstream: secure
            chains:
              main: []

            """
    }

    /// What `curl -i` printed for one request.
    struct CurlResult {
        var exitStatus: Int32
        var statusLine: String
        /// Header names lowercased; the last value wins.
        var headers: [String: String]
        var body: String
        var errors: String

        /// The `data:` field of every SSE event in the body.
        var sseData: [String] {
            body.split(separator: "\n", omittingEmptySubsequences: true)
                .filter { $0.hasPrefix("data: ") }
                .map { String($0.dropFirst(6)) }
        }
    }

    /// POSTs a streaming chat completion to `https://127.0.0.1:port` with `curl`, trusting `caFile` only.
    private func curl(port: Int, caFile: String) throws -> CurlResult {
        let outputPath = (certs.directory as NSString).appendingPathComponent("curl-\(UUID().uuidString).out")
        let errorPath = outputPath + ".err"
        try #require(FileManager.default.createFile(atPath: outputPath, contents: nil))
        try #require(FileManager.default.createFile(atPath: errorPath, contents: nil))
        defer {
            try? FileManager.default.removeItem(atPath: outputPath)
            try? FileManager.default.removeItem(atPath: errorPath)
        }
        let output = try #require(FileHandle(forWritingAtPath: outputPath))
        let errors = try #require(FileHandle(forWritingAtPath: errorPath))

        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [
            "curl", "-sS", "-N", "-i", "--max-time", "20", "--cacert", caFile,
            "https://127.0.0.1:\(port)/v1/chat/completions",
            "-d", TestClient.chatRequest(), "-H", "content-type: application/json",
        ]
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = output
        process.standardError = errors
        try ProcessLaunchGate.run(process)
        process.waitUntilExit()
        try output.close()
        try errors.close()

        let text = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
        let errorText = (try? String(contentsOfFile: errorPath, encoding: .utf8)) ?? ""
        if process.terminationStatus == 127 {
            Issue.record("curl is not installed (scripts/install-deps.sh installs it): \(errorText)")
        }
        var result = CurlResult(exitStatus: process.terminationStatus, statusLine: "", headers: [:], body: "", errors: errorText)
        guard let split = text.range(of: "\r\n\r\n") else {
            result.body = text
            return result
        }
        let lines = text[..<split.lowerBound].components(separatedBy: "\r\n")
        result.statusLine = lines.first ?? ""
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let name = line[..<colon].lowercased()
            result.headers[name] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        result.body = String(text[split.upperBound...])
        return result
    }
}
