import Foundation

/// Throwaway certificates for TLS tests, made at test time with the `openssl` command-line tool
/// (EC P-256 keys, so it takes a few tens of milliseconds) in a fresh temporary directory:
///
/// - a CA (`caCertificate`, `caKey`), self-signed;
/// - a server certificate for `localhost` (`serverCertificate`, `serverKey`) signed by that CA,
///   with subjectAltName `DNS:localhost` and `IP:127.0.0.1`;
/// - a second, unrelated CA (`otherCACertificate`, `otherCAKey`) that trusts nothing the first
///   one signed, for "unknown CA" cases.
///
/// Every path is absolute and PEM. The certificates are valid from now for two days.
///
/// ```swift
/// let certs = try TestCertificates.generate()
/// defer { certs.remove() }
/// // listeners: [{ address: 127.0.0.1:0, tls: { certificate: certs.serverCertificate, key: certs.serverKey } }]
/// ```
public struct TestCertificates: Sendable {
    /// The temporary directory holding every file; `remove()` deletes it.
    public let directory: String
    /// The CA's certificate: give it as `ca_file` to trust `serverCertificate`.
    public let caCertificate: String
    /// The CA's private key.
    public let caKey: String
    /// A certificate for `localhost` and 127.0.0.1, signed by the CA.
    public let serverCertificate: String
    /// The server certificate's private key.
    public let serverKey: String
    /// An unrelated CA's certificate, which does not trust `serverCertificate`.
    public let otherCACertificate: String
    /// The unrelated CA's private key.
    public let otherCAKey: String

    /// Why generating failed: `openssl` missing, or one of its runs failing (its stderr included).
    public struct GenerationError: Error, CustomStringConvertible, Sendable {
        /// What failed, with `openssl`'s own output.
        public var description: String
    }

    /// Makes a fresh directory under the system's temporary directory and fills it. Throws
    /// `GenerationError` when `openssl` is not installed or fails.
    public static func generate() throws -> TestCertificates {
        let base = FileManager.default.temporaryDirectory.path
        let directory = (base as NSString).appendingPathComponent("sluice-certs-\(UUID().uuidString)")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: false)
        func path(_ name: String) -> String { (directory as NSString).appendingPathComponent(name) }
        let certificates = TestCertificates(
            directory: directory,
            caCertificate: path("ca.pem"), caKey: path("ca.key"),
            serverCertificate: path("server.pem"), serverKey: path("server.key"),
            otherCACertificate: path("other-ca.pem"), otherCAKey: path("other-ca.key"))
        do {
            try certificates.fill(config: path("openssl.cnf"), request: path("server.csr"))
        } catch {
            certificates.remove()
            throw error
        }
        return certificates
    }

    /// Deletes the directory and everything in it. Safe to call more than once.
    public func remove() {
        try? FileManager.default.removeItem(atPath: directory)
    }

    // A configuration of our own, so nothing depends on the system's openssl.cnf.
    private static let configText = """
        [req]
        distinguished_name = dn
        prompt = no

        [dn]
        CN = unused

        [ca_ext]
        basicConstraints = critical, CA:TRUE
        keyUsage = critical, keyCertSign, cRLSign
        subjectKeyIdentifier = hash

        [server_ext]
        basicConstraints = critical, CA:FALSE
        keyUsage = critical, digitalSignature
        extendedKeyUsage = serverAuth
        subjectAltName = DNS:localhost, IP:127.0.0.1
        subjectKeyIdentifier = hash
        authorityKeyIdentifier = keyid

        """

    private static let ecKey = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]

    private func fill(config: String, request: String) throws {
        try Self.configText.write(toFile: config, atomically: true, encoding: .utf8)
        try makeCA(certificate: caCertificate, key: caKey, name: "Sluice Test CA", config: config)
        try makeCA(certificate: otherCACertificate, key: otherCAKey, name: "Sluice Unrelated Test CA", config: config)
        try Self.openssl(["req", "-new"] + Self.ecKey + [
            "-keyout", serverKey, "-out", request, "-subj", "/CN=localhost", "-config", config,
        ])
        try Self.openssl([
            "x509", "-req", "-in", request, "-CA", caCertificate, "-CAkey", caKey,
            "-set_serial", Self.randomSerial(), "-days", "2", "-sha256",
            "-extfile", config, "-extensions", "server_ext", "-out", serverCertificate,
        ])
    }

    private func makeCA(certificate: String, key: String, name: String, config: String) throws {
        try Self.openssl(["req", "-x509"] + Self.ecKey + [
            "-keyout", key, "-out", certificate, "-subj", "/CN=\(name)", "-days", "2", "-sha256",
            "-set_serial", Self.randomSerial(), "-config", config, "-extensions", "ca_ext",
        ])
    }

    /// A positive 63-bit serial in hex, so two runs never issue the same serial under one name.
    private static func randomSerial() -> String {
        "0x" + String(UInt64.random(in: 1...UInt64(Int64.max)), radix: 16)
    }

    /// Runs `openssl` with `arguments` (found on PATH); throws with its stderr when it fails.
    private static func openssl(_ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["openssl"] + arguments
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        let errors = Pipe()
        process.standardError = errors
        do {
            try ProcessLaunchGate.run(process)
        } catch {
            throw GenerationError(description: "cannot run openssl: \(error)")
        }
        // openssl writes little to stderr; reading to the end before waiting cannot deadlock.
        let errorText = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationReason == .exit, process.terminationStatus == 0 else {
            let status = process.terminationStatus
            if status == 127 {
                throw GenerationError(description: "the openssl command-line tool is not installed (scripts/install-deps.sh installs it)")
            }
            throw GenerationError(description: "openssl \(arguments.joined(separator: " ")) failed (\(status)): \(errorText)")
        }
    }
}
