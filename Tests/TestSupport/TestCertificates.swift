import Foundation

/// A throwaway certificate authority and a server certificate for 127.0.0.1 and
/// localhost, made with the `openssl` command line: tests of NATS and PostgreSQL over TLS.
public struct TestCertificates: Sendable {
    public let directory: URL
    public var caFile: URL { directory.appendingPathComponent("ca.pem") }
    public var certificateFile: URL { directory.appendingPathComponent("server.pem") }
    public var keyFile: URL { directory.appendingPathComponent("server.key") }
    /// A second, unrelated authority: a client trusting only it must refuse the server.
    public var otherCAFile: URL { directory.appendingPathComponent("other-ca.pem") }

    public init(in directory: URL) async throws {
        self.directory = directory
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let d = directory.path
        try await Self.openssl(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=ssmd test CA",
                          "-keyout", "\(d)/ca.key", "-out", "\(d)/ca.pem"])
        try await Self.openssl(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=ssmd other CA",
                          "-keyout", "\(d)/other-ca.key", "-out", "\(d)/other-ca.pem"])
        try await Self.openssl(["req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1",
                          "-keyout", "\(d)/server.key", "-out", "\(d)/server.csr"])
        try "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n"
            .write(toFile: "\(d)/san.ext", atomically: true, encoding: .utf8)
        try await Self.openssl(["x509", "-req", "-in", "\(d)/server.csr", "-CA", "\(d)/ca.pem", "-CAkey", "\(d)/ca.key",
                          "-CAcreateserial", "-days", "2", "-extfile", "\(d)/san.ext", "-out", "\(d)/server.pem"])
    }

    static func openssl(_ arguments: [String]) async throws {
        let (status, text) = try await runTool("openssl", arguments)
        guard status == 0 else { throw HarnessError.failed("openssl \(arguments.first ?? "") failed: \(text)") }
    }
}
