import Foundation
import Testing
import TestSupport

/// A bad setting stops a daemon at start with exit code 2 and one line naming the setting —
/// by flag and by environment variable — and never echoes a secret.
@Suite(.tags(.processes)) struct ConfigurationErrorTests {
    struct Case: CustomTestStringConvertible, Sendable {
        var program: String
        var arguments: [String]
        var environment: [String: String] = [:]
        var mentions: String
        var testDescription: String { "\(program) \(arguments.joined(separator: " ")) \(environment)" }
    }

    static let cases: [Case] = [
        Case(program: "series-fetcher", arguments: ["--interval", "soon"], mentions: "--interval"),
        Case(program: "series-fetcher", arguments: [], environment: ["SSMD_INTERVAL": "-3s"], mentions: "SSMD_INTERVAL"),
        Case(program: "series-fetcher", arguments: ["--nats-url", "http://127.0.0.1:4222"], mentions: "--nats-url"),
        Case(program: "series-fetcher", arguments: [], environment: ["SSMD_GAMES_ONLY": "maybe"], mentions: "--games-only"),
        Case(program: "market-fetcher", arguments: ["--concurrency", "0"], mentions: "--concurrency"),
        Case(program: "market-fetcher", arguments: ["--rate-tier", "gold"], mentions: "--rate-tier"),
        Case(program: "market-fetcher", arguments: ["--exchange-url", "ftp://example"], mentions: "--exchange-url"),
        Case(program: "market-fetcher", arguments: ["--api-key-id", "k"], mentions: "--api-private-key"),
        Case(program: "market-fetcher", arguments: ["--pool-share", "2"], mentions: "--pool-share"),
        Case(program: "market-fetcher", arguments: ["--tag", "Soccer", "--exclude-tag", "Basketball"], mentions: "--exclude-tag"),
        Case(program: "series-fetcher", arguments: ["--reconcile-every", "soon"], mentions: "--reconcile-every"),
        Case(program: "series-fetcher", arguments: ["--delta-limit", "0"], mentions: "--delta-limit"),
        Case(program: "db-writer", arguments: ["--batch-max-rows", "many"], mentions: "--batch-max-rows"),
        Case(program: "db-writer", arguments: ["--log-format", "xml"], mentions: "--log-format"),
        Case(program: "db-writer", arguments: ["--database-url", "mysql://u:hunter2@h/db"], mentions: "--database-url"),
        Case(program: "db-writer", arguments: ["--no-such-flag"], mentions: "--no-such-flag"),
    ]

    @Test(arguments: cases)
    func badSettingExitsTwoWithOneLine(_ c: Case) async throws {
        var env = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("SSMD_") }
        for (k, v) in c.environment { env[k] = v }
        let dir = try TestDirectory("config-error")
        defer { dir.cleanup() }
        let errPath = dir.url.appendingPathComponent("stderr").path
        let pid = try Spawn.start(BuiltProducts.executable(c.program).path, c.arguments, environment: env,
                                  stdout: .file(dir.url.appendingPathComponent("stdout").path, append: false),
                                  stderr: .file(errPath, append: false))
        let status = await Spawn.wait(pid, timeout: .seconds(30))
        let stderr = (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? ""
        #expect(status == 2, "exit \(status.map(String.init) ?? "none: still running after 30 s, killed"): \(stderr)")
        let lines = stderr.split(separator: "\n")
        #expect(lines.count == 1, "\(stderr)")
        #expect(stderr.contains(c.mentions), "\(stderr)")
        #expect(!stderr.contains("hunter2"))
    }
}
