import Foundation
import Testing
import TestSupport

/// NATS over TLS and PostgreSQL's `sslmode`, with a certificate authority made for the test:
/// the daemons trust only the CA they are given, and say so in one line when the server's
/// certificate is not signed by it.
@Suite(.tags(.processes), .processSlot) struct TLSTests {
    @Test(.timeLimit(.minutes(20))) func natsOverTLSWithTheGivenCA() async throws {
        let h = try await PipelineHarness(name: "tls-nats", simulatorArguments: ["--clock-speed", "0"])
        defer { h.teardown() }
        let certs = try await TestCertificates(in: h.directory.url.appendingPathComponent("certs"))
        let nats = try await NATSTestServer(tls: (certs.certificateFile.path, certs.keyFile.path))
        defer { nats.teardown() }
        #expect(nats.url.hasPrefix("tls://"))

        let ok = try await h.run("series-fetcher", ["--once"], environment: ["SSMD_NATS_URL": nats.url, "SSMD_NATS_TLS_CA": certs.caFile.path])
        #expect(ok.status == 0, "series-fetcher over TLS: \(ok.output.suffix(2000))")
        #expect(ok.output.contains("cycle complete"))
        // The server saw a TLS client (its connection list reports the TLS version).
        let connz = try await nats.monitor("/connz?state=closed")
        #expect(connz.body.contains("tls_version"), "no TLS connection in /connz: \(connz.body.prefix(500))")

        // A CA that did not sign the server's certificate: refused, one clear line, no hang.
        let wrong = try await h.run("series-fetcher", ["--once"], environment: ["SSMD_NATS_URL": nats.url, "SSMD_NATS_TLS_CA": certs.otherCAFile.path],
                              timeout: .seconds(60))
        #expect(wrong.status != 0)
        let errors = wrong.output.split(separator: "\n").filter { $0.contains("level=error") || $0.contains("error:") || $0.hasPrefix("series-fetcher:") }
        #expect(errors.contains { $0.lowercased().contains("tls") || $0.lowercased().contains("ssl") || $0.lowercased().contains("certificate") },
                "the refusal names TLS: \(wrong.output.suffix(1500))")
    }

    @Test(.timeLimit(.minutes(20))) func postgresSSLModeIsHonoured() async throws {
        let h = try await PipelineHarness(name: "tls-pg", privatePostgres: true)
        defer { h.teardown() }
        let certs = try await TestCertificates(in: h.directory.url.appendingPathComponent("certs"))
        try await h.postgresServer.enableSSL(certificate: certs.certificateFile, key: certs.keyFile)
        let verified = h.postgres.connectionString + " sslmode=verify-full sslrootcert=\(certs.caFile.path)"

        let ok = try await h.run("ssmd", ["migrate"], environment: ["SSMD_DATABASE_URL": verified])
        #expect(ok.status == 0, "ssmd migrate with sslmode=verify-full: \(ok.output.suffix(1500))")
        let sslConnections = { (try? String(contentsOf: h.postgresServer.logFile, encoding: .utf8))?.components(separatedBy: "SSL enabled").count ?? 1 }
        let afterMigrate = sslConnections()
        #expect(afterMigrate > 1, "PostgreSQL logged no SSL connection")
        // db-writer too: PostgreSQL authorizes new SSL connections from it, and it stays up.
        let writer = try h.start("db-writer", [], environment: ["SSMD_DATABASE_URL": verified])
        #expect(await eventually(timeout: .seconds(30)) { sslConnections() > afterMigrate }, "db-writer made no SSL connection:\n\(writer.output.suffix(1500))")
        #expect(writer.isRunning)

        // The wrong authority: refused with the reason, exit code 2 or 1, and the password-free
        // connection string is not a secret anyway, but no certificate content is printed.
        let wrongCA = h.postgres.connectionString + " sslmode=verify-full sslrootcert=\(certs.otherCAFile.path)"
        let wrong = try await h.run("ssmd", ["migrate"], environment: ["SSMD_DATABASE_URL": wrongCA], timeout: .seconds(60))
        #expect(wrong.status != 0)
        #expect(wrong.output.contains("certificate verify failed"), "\(wrong.output.suffix(1500))")
        #expect(!wrong.output.contains("BEGIN CERTIFICATE"))
    }
}
