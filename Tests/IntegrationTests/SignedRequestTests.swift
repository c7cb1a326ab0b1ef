import Foundation
import Testing
import TestSupport
import _CryptoExtras

/// Fetchers configured with a Kalshi API key sign every request; the simulator, given the
/// public key, verifies them (and refuses a key it does not know).
@Suite(.tags(.processes), .processSlot) struct SignedRequestTests {
    @Test func signedCycleIsAcceptedAndAWrongKeyRefused() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ssmd-keys-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let key = try _RSA.Signing.PrivateKey(keySize: .bits2048)
        let privatePath = dir.appendingPathComponent("k1.key").path, publicPath = dir.appendingPathComponent("k1.pub.pem").path
        try key.pemRepresentation.write(toFile: privatePath, atomically: true, encoding: .utf8)
        try key.publicKey.pemRepresentation.write(toFile: publicPath, atomically: true, encoding: .utf8)
        let other = dir.appendingPathComponent("other.key").path
        try _RSA.Signing.PrivateKey(keySize: .bits2048).pemRepresentation.write(toFile: other, atomically: true, encoding: .utf8)

        let h = try await PipelineHarness(name: "signed", simulatorArguments: PipelineEndToEndTests.frozenClock + ["--public-key", "k1=\(publicPath)"])
        defer { h.teardown() }
        let good = try await h.run("series-fetcher", ["--once"], environment: ["SSMD_API_KEY_ID": "k1", "SSMD_API_PRIVATE_KEY": privatePath])
        #expect(good.status == 0, "\(good.output.suffix(2000))")
        #expect(good.output.contains("signed_as=k1"))
        await #expect((try h.simulatorStatusCounts())["401"] == nil)

        let bad = try await h.run("series-fetcher", ["--once"], environment: ["SSMD_API_KEY_ID": "k1", "SSMD_API_PRIVATE_KEY": other])
        #expect(bad.status == 1, "a refused signature must fail the cycle: \(bad.output.suffix(1500))")
        #expect(bad.output.contains("401"))
        await #expect((try h.simulatorStatusCounts())["401"] ?? 0 > 0)
        #expect(!bad.output.contains("PRIVATE KEY"), "key material in the logs")
    }
}
